// The API types, generated from the committed OpenAPI documents (docs/openapi/<service>.json)
// into src/api/<service>.ts. `--check`: fail when the committed types differ from the documents.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'

const SERVICES = ['auth', 'tasks', 'logs', 'kpi']
const root = new URL('../../docs/openapi/', import.meta.url)
const out = new URL('../src/api/', import.meta.url)
const check = process.argv.includes('--check')
let stale = []
for (const service of SERVICES) {
  const document = JSON.parse(await readFile(new URL(`${service}.json`, root), 'utf8'))
  const header = `// Generated from docs/openapi/${service}.json by \`make openapi\`: do not edit.\n`
  const text = header + astToString(await openapiTS(document))
  const target = new URL(`${service}.ts`, out)
  if (check) {
    const current = await readFile(target, 'utf8').catch(() => '')
    if (current !== text) stale.push(fileURLToPath(target))
  } else {
    await writeFile(target, text)
    console.log(`wrote frontend/src/api/${service}.ts`)
  }
}
if (stale.length) {
  console.error(`API types out of date with docs/openapi (run \`make openapi\`): ${stale.join(', ')}`)
  process.exit(1)
}
