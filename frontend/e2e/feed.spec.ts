import { expect, test } from '@playwright/test'
import { createTask, registerUser, signIn, uniqueName } from './helpers'

// The feed page reaches the gateway through a TCP proxy that tests/e2e/test_web_app.py lets
// this test cut (every connection dropped, new ones refused) and restore.
const PROXY_URL = process.env.PROXY_URL ?? ''
const CONTROL_URL = process.env.PROXY_CONTROL_URL ?? ''

test('the feed resumes after the connection is cut, without a reload', async ({ browser, request }) => {
  expect(PROXY_URL, 'PROXY_URL is set by tests/e2e/test_web_app.py').not.toBe('')
  const board = await (await browser.newContext()).newPage()
  const username = uniqueName('feed')
  await registerUser(board, username)
  const feed = await (await browser.newContext({ baseURL: PROXY_URL })).newPage()
  await signIn(feed, username)
  await feed.goto('/activity')
  await expect(feed.getByTestId('feed-status')).toHaveText('Live')
  // An entry first, so the feed holds a cursor to resume from.
  const first = await createTask(board, uniqueName('Before the cut '))
  await expect(feed.locator('.feed li', { hasText: `task ${await first.getAttribute('data-task-id')}` })).toHaveCount(1)
  await feed.evaluate(() => {
    ;(window as unknown as { survivor: boolean }).survivor = true
  })

  expect((await request.post(`${CONTROL_URL}/cut`)).status()).toBe(204)
  await expect(feed.getByTestId('feed-status')).toHaveText('Reconnecting…')
  const card = await createTask(board, uniqueName('While cut '))
  const taskId = await card.getAttribute('data-task-id')
  expect((await request.post(`${CONTROL_URL}/restore`)).status()).toBe(204)

  await expect(feed.getByTestId('feed-status')).toHaveText('Live', { timeout: 30_000 })
  await expect(feed.locator('.feed li', { hasText: `task ${taskId}` })).toHaveCount(1)
  expect(await feed.evaluate(() => (window as unknown as { survivor?: boolean }).survivor)).toBe(true)
})
