import { expect, test } from '@playwright/test'
import { column, createTask, registerUser, signIn, uniqueName } from './helpers'

test('register, create a task, move it to done: the feed shows it live, the completion rate changes', async ({ browser }) => {
  const context = await browser.newContext()
  const board = await context.newPage()
  const username = uniqueName('web')
  await registerUser(board, username)

  const dashboard = await context.newPage()
  await dashboard.goto('/dashboard')
  // The rate with its counts ("47.4 % · 9 of 19 tasks"): a month at 100 % stays at 100 %.
  const rate = dashboard.getByTestId('completion')
  await expect(rate).toBeVisible()
  const before = await rate.textContent()

  const feed = await context.newPage()
  await feed.goto('/activity')
  await expect(feed.getByTestId('feed-status')).toHaveText('Live')

  const title = uniqueName('Ship ')
  const card = await createTask(board, title)
  const taskId = await card.getAttribute('data-task-id')
  await expect(feed.locator('.feed li', { hasText: `task ${taskId}` }).first()).toBeVisible()

  // By keyboard: Alt+→ moves the focused card one column on.
  await card.focus()
  await board.keyboard.press('Alt+ArrowRight')
  await expect(column(board, 'in_progress').locator('.task-card', { hasText: title })).toBeVisible()
  // By drag and drop: onto the Done column (its heading: a long column's middle is off screen).
  await column(board, 'in_progress').locator('.task-card', { hasText: title }).dragTo(column(board, 'done').getByRole('heading'))
  await expect(column(board, 'done').locator('.task-card', { hasText: title })).toBeVisible()
  await expect(feed.locator('.feed li', { hasText: `task ${taskId}` })).toHaveCount(3)

  // The KPIs follow the events: show the month again until the rate has moved.
  await expect(async () => {
    await dashboard.getByRole('button', { name: 'Show' }).click()
    await expect(rate).not.toHaveText(before ?? '', { timeout: 1_000 })
  }).toPass({ timeout: 30_000 })

  // Sign out revokes the session: a reload finds no session and asks to sign in.
  await board.getByRole('button', { name: 'Sign out' }).click()
  await expect(board.getByRole('heading', { name: 'Sign in' })).toBeVisible()
  await board.goto('/')
  await expect(board.getByRole('heading', { name: 'Sign in' })).toBeVisible()
  await context.close()
})

test('two people edit one task: the second gets the conflict view and can reapply', async ({ browser }) => {
  const first = await (await browser.newContext()).newPage()
  const second = await (await browser.newContext()).newPage()
  const username = uniqueName('edit')
  await registerUser(first, username)
  await signIn(second, username)
  const title = uniqueName('Shared ')
  await createTask(first, title)
  await second.reload()

  await second.locator('.task-card', { hasText: title }).getByRole('button', { name: /^Edit/ }).click()
  await first.locator('.task-card', { hasText: title }).getByRole('button', { name: /^Edit/ }).click()
  await first.locator('#edit-title').fill(`${title} (renamed)`)
  await first.getByRole('button', { name: 'Save' }).click()
  await expect(first.locator('.task-card', { hasText: `${title} (renamed)` })).toBeVisible()

  await second.locator('#edit-status').selectOption('done')
  await second.getByRole('button', { name: 'Save' }).click()
  const conflict = second.locator('.conflict')
  await expect(conflict).toContainText('Someone else changed')
  await expect(conflict.getByRole('row', { name: /Title/ })).toContainText(`${title} (renamed)`)
  await conflict.getByRole('button', { name: 'Reapply my changes' }).click()
  await expect(column(second, 'done').locator('.task-card', { hasText: `${title} (renamed)` })).toBeVisible()
})

test('field errors come from the problem, and a 429 says how long to wait', async ({ page }) => {
  await page.goto('/register')
  await page.getByLabel('Username').fill('ab')
  await page.getByLabel('Email').fill('not-an-email')
  await page.getByLabel(/^Password/).fill('short')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.locator('#register-username-error')).toBeVisible()
  await expect(page.locator('#register-password-error')).toBeVisible()
  await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true')

  await page.goto('/signin')
  const alert = page.getByRole('alert')
  await page.getByLabel('Username').fill(uniqueName('nobody'))
  await page.getByLabel('Password').fill('wrong-password')
  await expect(async () => {
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(alert).toContainText(/Try again in \d+ s/, { timeout: 2_000 })
  }).toPass({ timeout: 30_000 })
})
