/** GET /v1/models: the service's model packs (OCR_MODELS), the default first, with each role's model. */
import type { FastifyInstance } from 'fastify'
import type { Ocr } from '../../engine.js'
import { modelsSchema } from '../schemas.js'

export function registerModelsRoute(app: FastifyInstance, deps: { ocr: Ocr }): void {
  const body = { models: deps.ocr.models }
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'The model packs this service reads with',
        description:
          'Every pack of OCR_MODELS (docs/MODELS.md), the default first: its name (what `model=` takes on POST /v1/ocr and POST /v1/jobs) and, per role, the model name from its inference.yml, the input shape of its ONNX graph and, for the recogniser, the number of characters it reads.',
        tags: ['ocr'],
        security: [{ bearer: [] }, { apiKey: [] }],
        response: { 200: { description: 'The packs', ...modelsSchema } },
      },
    },
    async () => body,
  )
}
