// `make frontend-audit`: the web app's targets, measured on a running system with `make seed`
// data. Prints one line per figure, with its target; exits 1 when one is missed.
//   node scripts/audit.mjs --url http://127.0.0.1:8080 --user alice --password demo-password
// 1. the first route's JavaScript (entry + the chunks index.html preloads), gzip: <= 150 KiB,
//    the chart library not among them;
// 2. the dashboard's charts drawn within 1 s of navigation (performance marks), in Chromium,
//    for a fresh load of /dashboard and for a click from the board;
// 3. Lighthouse 12 (desktop preset) on the board and the dashboard: accessibility >= 95,
//    best practices >= 95, performance >= 90.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { parseArgs } from 'node:util'
import { chromium } from '@playwright/test'
import lighthouse from 'lighthouse'
import desktopConfig from 'lighthouse/core/config/desktop-config.js'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    user: { type: 'string', default: 'alice' },
    password: { type: 'string', default: 'demo-password' },
    chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    port: { type: 'string', default: process.env.AUDIT_DEBUG_PORT ?? '9222' },
  },
})
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const dist = new URL('../dist/', import.meta.url)
const rows = []
const record = (name, value, unit, target, ok) => rows.push({ name, value, unit, target, ok })

// 1. First route JS.
const index = readFileSync(new URL('index.html', dist), 'utf8')
const scripts = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1])
const firstKiB = scripts.reduce((sum, path) => sum + gzipSync(readFileSync(new URL(path, dist))).length, 0) / 1024
const chartsInFirst = scripts.some((path) => /echarts/.test(path))
record('first route JS (gzip)', firstKiB.toFixed(1), 'KiB', '<= 150, no chart library', firstKiB <= 150 && !chartsInFirst)

// 2. Charts drawn after navigation.
// A persistent context is the browser's default one, which Lighthouse (on the same debugging
// port) audits in: it shares the refresh cookie this page signs in with.
const profile = mkdtempSync(join(tmpdir(), 'frontend-audit-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: values.chromium, args: [...ARGS, `--remote-debugging-port=${values.port}`], viewport: { width: 1350, height: 940 },
})
const page = await context.newPage()
await page.goto(`${values.url}/signin`)
await page.getByLabel('Username').fill(values.user)
await page.getByLabel('Password').fill(values.password)
await page.getByRole('button', { name: 'Sign in' }).click()
await page.getByRole('heading', { name: 'Board' }).waitFor()

async function chartsDrawnAfter(since) {
  await page.waitForFunction(() => performance.getEntriesByType('mark').filter((m) => m.name.startsWith('chart-drawn:')).length >= 6, null, { timeout: 30_000 })
  return page.evaluate((start) => {
    const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('chart-drawn:'))
    return Math.max(...marks.map((m) => m.startTime)) - start
  }, since)
}
await page.evaluate(() => performance.clearMarks())
const clickedAt = await page.evaluate(() => performance.now())
await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click()
const fromClick = await chartsDrawnAfter(clickedAt)
record('dashboard charts drawn, from the click', fromClick.toFixed(0), 'ms', '<= 1000', fromClick <= 1000)
await page.goto(`${values.url}/dashboard`)
const fromLoad = await chartsDrawnAfter(0)
record('dashboard charts drawn, fresh load', fromLoad.toFixed(0), 'ms', '<= 1000', fromLoad <= 1000)

// 3. Lighthouse, in the same (signed-in) browser: the refresh cookie signs each page in.
for (const [name, path] of [['board', '/'], ['dashboard', '/dashboard']]) {
  const result = await lighthouse(`${values.url}${path}`, {
    port: Number(values.port), output: 'json', logLevel: 'error', disableStorageReset: true,
    onlyCategories: ['performance', 'accessibility', 'best-practices'],
  }, desktopConfig)
  const landed = result?.lhr.finalDisplayedUrl ?? ''
  if (!landed.endsWith(path)) throw new Error(`Lighthouse was not signed in: it landed on ${landed}`)
  const categories = result?.lhr.categories ?? {}
  for (const [key, target] of [['accessibility', 95], ['best-practices', 95], ['performance', 90]]) {
    const score = Math.round((categories[key]?.score ?? 0) * 100)
    record(`Lighthouse ${name} ${key}`, score, '', `>= ${target}`, score >= target)
  }
  if (process.env.AUDIT_VERBOSE) {
    const a = result?.lhr.audits ?? {}
    console.error(name, ['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time', 'cumulative-layout-shift', 'speed-index'].map((id) => `${id}=${a[id]?.displayValue}`).join(' '))
    for (const audit of Object.values(result?.lhr.audits ?? {})) {
      if (audit.score !== null && audit.score < 1 && audit.scoreDisplayMode === 'binary') console.error(name, audit.id, audit.title, JSON.stringify(audit.details?.items ?? []).slice(0, 600))
    }
  }
}
await context.close()
rmSync(profile, { recursive: true, force: true })

console.log(`make frontend-audit: ${values.url} (${new Date().toISOString().slice(0, 16)}Z)`)
for (const row of rows) {
  console.log(`  ${row.ok ? 'ok  ' : 'MISS'} ${row.name.padEnd(42)} ${String(row.value).padStart(7)} ${row.unit.padEnd(3)} target ${row.target}`)
}
process.exit(rows.every((row) => row.ok) ? 0 : 1)
