import { readFileSync } from 'node:fs'

/**
 * ocrserve's version: package.json's, the one place it is written (src/ and dist/ both sit one
 * level below the package root). The CLI's --version, the OpenAPI document, the model server's
 * metadata and the hOCR/ALTO producer fields all say this.
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
