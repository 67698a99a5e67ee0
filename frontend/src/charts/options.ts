// The dashboard's charts as ECharts options, built from the API's answers (pure functions).
import type { ComposeOption } from 'echarts/core'
import type { BarSeriesOption, LineSeriesOption, ScatterSeriesOption } from 'echarts/charts'
import type { GridComponentOption, LegendComponentOption } from 'echarts/components'
import type { Ageing, CompletedTask, Cumulative, FlowTimes, Throughput, Trend, Wip } from '@/services/kpi'

export type ChartOption = ComposeOption<
  BarSeriesOption | LineSeriesOption | ScatterSeriesOption | GridComponentOption | LegendComponentOption
>

const DAY = 86_400
const base = {
  animation: false,
  grid: { left: 48, right: 16, top: 36, bottom: 32 },
  legend: { top: 0 },
}

export function trendOption(trend: Trend): ChartOption {
  const months = trend.items.map((point) => `${point.year}-${String(point.month).padStart(2, '0')}`)
  return {
    ...base,
    xAxis: { type: 'category', data: months },
    yAxis: { type: 'value', min: 0, max: 100, name: '%' },
    series: [{ name: 'Completion rate', type: 'line', data: trend.items.map((point) => Math.round(point.completion_rate * 1000) / 10) }],
  }
}

export function cumulativeOption(flow: Cumulative): ChartOption {
  const days = flow.items.map((day) => day.day)
  const band = (name: string, values: number[], color: string): LineSeriesOption => ({
    name, type: 'line', stack: 'flow', areaStyle: { color }, lineStyle: { color }, itemStyle: { color }, symbol: 'none', data: values,
  })
  return {
    ...base,
    xAxis: { type: 'category', data: days, boundaryGap: false },
    yAxis: { type: 'value', name: 'tasks' },
    series: [
      band('Done', flow.items.map((day) => day.done), '#34a853'),
      band('In progress', flow.items.map((day) => day.in_progress), '#fbbc04'),
      band('To do', flow.items.map((day) => day.todo), '#8ab4f8'),
    ],
  }
}

export function cycleTimeOption(completions: CompletedTask[], times: FlowTimes): ChartOption {
  const points = completions
    .filter((task) => task.cycle_seconds !== null)
    .map((task) => [task.completed_at.slice(0, 10), Math.round(((task.cycle_seconds ?? 0) / DAY) * 10) / 10])
  const line = (name: string, seconds: number | null | undefined) =>
    seconds == null ? [] : [{ name, yAxis: Math.round((seconds / DAY) * 10) / 10, label: { formatter: `${name} {c} d` } }]
  return {
    ...base,
    xAxis: { type: 'time' },
    yAxis: { type: 'value', name: 'days' },
    series: [{
      name: 'Cycle time', type: 'scatter', symbolSize: 7, data: points,
      markLine: {
        symbol: 'none',
        data: [...line('p50', times.cycle.p50_seconds), ...line('p85', times.cycle.p85_seconds), ...line('p95', times.cycle.p95_seconds)],
      },
    }],
  }
}

export function throughputOption(throughput: Throughput): ChartOption {
  return {
    ...base,
    xAxis: { type: 'category', data: throughput.items.map((period) => period.start) },
    yAxis: { type: 'value', name: 'done', minInterval: 1 },
    series: [{ name: `Completed per ${throughput.per}`, type: 'bar', data: throughput.items.map((period) => period.completed) }],
  }
}

export function wipOption(wip: Wip): ChartOption {
  return {
    ...base,
    xAxis: { type: 'category', data: wip.items.map((day) => day.day) },
    yAxis: { type: 'value', name: 'tasks', minInterval: 1 },
    series: [{ name: 'In progress', type: 'line', step: 'end', symbol: 'none', data: wip.items.map((day) => day.in_progress) }],
  }
}

export function ageingOption(ageing: Ageing): ChartOption {
  const items = [...ageing.items].sort((a, b) => b.age_seconds - a.age_seconds)
  const threshold = ageing.threshold_seconds
  return {
    ...base,
    xAxis: { type: 'category', data: items.map((task) => `#${task.task_id}`) },
    yAxis: { type: 'value', name: 'days in progress' },
    series: [{
      name: 'Age', type: 'bar', data: items.map((task) => Math.round((task.age_seconds / DAY) * 10) / 10),
      markLine: threshold == null ? undefined : { symbol: 'none', data: [{ name: 'p85 cycle', yAxis: Math.round((threshold / DAY) * 10) / 10 }] },
    }],
  }
}

/** Whether an option has at least one data point to draw. */
export function hasData(option: ChartOption): boolean {
  const series = Array.isArray(option.series) ? option.series : option.series ? [option.series] : []
  return series.some((item) => Array.isArray(item.data) && item.data.length > 0)
}
