/** ocrserve's library face. */
export { createOcr, type CreateOcrOptions } from './ocr.js'
export type { Ocr } from './engine.js'
export type { EngineStats, OcrResult, OcrLine, PageResult, Quad, Point, ReadOptions, ImageInput, StageTiming } from './types.js'
export { OcrError, ERRORS, type ErrorCode } from './errors.js'
export { parseEngineSettings, loadServiceConfig, ENV_VARS, type EngineSettings, type EngineSettingsInput, type ServiceConfig, type RemoteSettings } from './config.js'
export type { Backend, Tensor, Feeds } from './inference/backend.js'
export type { Logger } from './logger.js'
export { widenWorkerHeaps, INITIAL_OLD_SPACE_MB } from './workers/heap.js'
