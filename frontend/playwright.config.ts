import { defineConfig } from '@playwright/test'

// The browser tests drive Debian's Chromium (Playwright's own download is not used) against a
// running system: APP_URL is its gateway (tests/e2e/test_web_app.py starts it as `make run`).
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

export default defineConfig({
  testDir: 'e2e',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: process.env.APP_URL ?? 'http://127.0.0.1:8080',
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'off',
    viewport: { width: 1400, height: 900 },
  },
})
