/**
 * Prometheus metrics of the model server, on a registry of its own (no global state): requests by
 * protocol/model/outcome, request latency, queue wait, execution time, batch sizes, queue depth.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { toOcrError } from '../errors.js'

export const PROTOCOL_LABELS = ['kserve-http', 'kserve-grpc', 'tfserving'] as const
export type ProtocolLabel = (typeof PROTOCOL_LABELS)[number]

export class ModelServerMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<'protocol' | 'model' | 'outcome'>
  readonly requestSeconds: Histogram<'protocol' | 'model'>
  readonly queueSeconds: Histogram<'model'>
  readonly computeSeconds: Histogram<'model'>
  readonly batchSize: Histogram<'model'>
  readonly queueDepth: Gauge<'model'>
  readonly modelReady: Gauge<'model' | 'version'>

  constructor(queueDepth: () => Array<{ model: string; queued: number }>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ocrserve_model_server_' })
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'ocrserve_model_requests_total',
      help: 'Inference requests by protocol, model and outcome (ok or an error code).',
      labelNames: ['protocol', 'model', 'outcome'],
      registers,
    })
    this.requestSeconds = new Histogram({
      name: 'ocrserve_model_request_duration_seconds',
      help: 'Inference request latency from decoded request to encoded answer (queue included).',
      labelNames: ['protocol', 'model'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.queueSeconds = new Histogram({
      name: 'ocrserve_model_queue_duration_seconds',
      help: 'Time requests wait in the dynamic batcher before their batch executes.',
      labelNames: ['model'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    })
    this.computeSeconds = new Histogram({
      name: 'ocrserve_model_compute_duration_seconds',
      help: 'Execution time of one (batched) inference on a worker.',
      labelNames: ['model'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
    this.batchSize = new Histogram({
      name: 'ocrserve_model_batch_size',
      help: 'Batch size (sum of dim 0) of each execution.',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    })
    this.queueDepth = new Gauge({
      name: 'ocrserve_model_queue_depth',
      help: 'Requests waiting in the dynamic batcher.',
      labelNames: ['model'],
      registers,
      collect() {
        for (const q of queueDepth()) this.set({ model: q.model }, q.queued)
      },
    })
    this.modelReady = new Gauge({
      name: 'ocrserve_model_ready',
      help: '1 when the model version is loaded on every worker.',
      labelNames: ['model', 'version'],
      registers,
    })
  }

  /** Runs one inference request, counting it by outcome (ok or its error code) and timing it. */
  async observe<T>(protocol: ProtocolLabel, model: string, request: () => Promise<T>): Promise<T> {
    const end = this.requestSeconds.startTimer({ protocol, model })
    try {
      const result = await request()
      this.requests.inc({ protocol, model, outcome: 'ok' })
      return result
    } catch (err) {
      this.requests.inc({ protocol, model, outcome: toOcrError(err).code })
      throw err
    } finally {
      end()
    }
  }
}
