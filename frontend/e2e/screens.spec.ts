import { expect, test } from '@playwright/test'
import { expectAccessible, signIn } from './helpers'

// With `make seed` data (tests/e2e/test_web_app.py seeds before the browser tests run).
const SEED_USER = process.env.SEED_USER ?? 'alice'
const SEED_PASSWORD = process.env.SEED_PASSWORD ?? 'demo-password'
const ADMIN_USER = process.env.ADMIN_USER ?? ''
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? ''
const SCREENSHOTS = process.env.SCREENSHOTS_DIR

test('sign-in and register pass axe', async ({ page }) => {
  await page.goto('/signin')
  await expectAccessible(page, 'sign in')
  await page.goto('/register')
  await expectAccessible(page, 'register')
})

test('every chart draws pixels, not an empty canvas', async ({ page }) => {
  await signIn(page, SEED_USER, SEED_PASSWORD)
  await page.goto('/dashboard')
  const charts = page.locator('[data-chart]')
  await expect(charts).toHaveCount(6)
  // The KPIs follow the events: show again until the old work in progress that
  // tests/e2e/test_web_app.py started is in the ageing.
  await expect(async () => {
    await page.getByRole('button', { name: 'Show' }).click()
    await expect(page.locator('[data-chart="ageing"]')).toHaveAttribute('data-empty', 'false', { timeout: 1_000 })
  }).toPass({ timeout: 30_000 })
  for (const chart of await charts.all()) {
    await expect(chart).toHaveAttribute('data-drawn', 'true')
    const painted = await chart.locator('canvas').evaluate((canvas: HTMLCanvasElement) => {
      const context = canvas.getContext('2d')
      if (!context) return 0
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height)
      let coloured = 0
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0, data[i + 3] ?? 0]
        if (a > 0 && !(r > 240 && g > 240 && b > 240)) coloured += 1
      }
      return coloured
    })
    expect(painted, `${await chart.getAttribute('data-chart')} painted pixels`).toBeGreaterThan(500)
  }
})

test('every signed-in screen passes axe; the board and dashboard screenshots', async ({ page }) => {
  await signIn(page, SEED_USER, SEED_PASSWORD)
  await expect(page.locator('.task-card').first()).toBeVisible()
  await expectAccessible(page, 'board')

  await page.locator('.task-card a').first().click()
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible()
  await expect(page.locator('.feed li').first()).toBeVisible()
  await expectAccessible(page, 'task detail')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click()
  await expect(page.getByTestId('feed-status')).toHaveText('Live')
  await expectAccessible(page, 'activity')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click()
  const charts = page.locator('[data-chart]')
  await expect(charts).toHaveCount(6)
  for (const chart of await charts.all()) {
    await expect(chart).toHaveAttribute('data-drawn', 'true')
    await expect(chart, `${await chart.getAttribute('data-chart')} has data`).toHaveAttribute('data-empty', 'false')
  }
  await expectAccessible(page, 'dashboard')
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/dashboard.png`, fullPage: true })
})

test('the admin users page passes axe', async ({ page }) => {
  expect(ADMIN_USER, 'ADMIN_USER is set by tests/e2e/test_web_app.py').not.toBe('')
  await signIn(page, ADMIN_USER, ADMIN_PASSWORD)
  // The board's screenshot: everyone's tasks created last month, the seeded history only (the
  // other browser tests' tasks are from today).
  const lastMonth = new Date()
  lastMonth.setDate(1)
  lastMonth.setMonth(lastMonth.getMonth() - 1)
  await page.locator('#filter-month').fill(`${lastMonth.getFullYear()}-${String(lastMonth.getMonth() + 1).padStart(2, '0')}`)
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await expect(page.locator('.task-card').first()).toBeVisible()
  await expectAccessible(page, 'board with filters')
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/board.png` })
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible()
  await expect(page.locator('tbody tr').first()).toBeVisible()
  await expectAccessible(page, 'users')
})
