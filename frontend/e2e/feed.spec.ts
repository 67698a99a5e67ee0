import { expect, test } from '@playwright/test'
import { createTask, registerUser, uniqueName } from './helpers'

test('the feed resumes after the connection is cut, without a reload', async ({ browser }) => {
  const context = await browser.newContext()
  const board = await context.newPage()
  await registerUser(board, uniqueName('feed'))
  const feedContext = await browser.newContext({ storageState: await context.storageState() })
  const feed = await feedContext.newPage()
  await feed.goto('/activity')
  await expect(feed.getByTestId('feed-status')).toHaveText('Live')
  const marker = await feed.evaluate(() => {
    ;(window as unknown as { survivor: boolean }).survivor = true
    return true
  })

  await feedContext.setOffline(true)
  await expect(feed.getByTestId('feed-status')).toHaveText('Reconnecting…')
  const title = uniqueName('While offline ')
  const card = await createTask(board, title)
  const taskId = await card.getAttribute('data-task-id')
  await feedContext.setOffline(false)

  await expect(feed.getByTestId('feed-status')).toHaveText('Live', { timeout: 30_000 })
  await expect(feed.locator('.feed li', { hasText: `task ${taskId}` })).toHaveCount(1)
  expect(marker && (await feed.evaluate(() => (window as unknown as { survivor?: boolean }).survivor))).toBe(true)
  await context.close()
  await feedContext.close()
})
