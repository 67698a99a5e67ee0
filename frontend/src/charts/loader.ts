/** ECharts, loaded once on demand (its own chunk): a page starts it early, charts await it. */
export const loadECharts = () => import('./echarts')

let turn: Promise<void> = Promise.resolve()

/** Run chart drawing one at a time, each in a task of its own, so that the page stays
 * responsive while six charts draw (no one long task). */
export function inTurn(draw: () => void): Promise<void> {
  const mine = turn.then(
    () =>
      new Promise<void>((resolve) => {
        setTimeout(() => {
          try {
            draw()
          } finally {
            resolve()
          }
        }, 0)
      }),
  )
  turn = mine
  return mine
}
