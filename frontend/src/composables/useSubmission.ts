import { computed, ref } from 'vue'
import { ApiError } from '@/services/problem'

/** A form's submission: busy while it runs, its error, and the error's messages per field. */
export function useSubmission() {
  const error = ref<unknown>(null)
  const busy = ref(false)
  const fields = computed(() => (error.value instanceof ApiError ? error.value.fieldErrors() : {}))

  async function run(action: () => Promise<void>): Promise<void> {
    busy.value = true
    error.value = null
    try {
      await action()
    } catch (caught) {
      error.value = caught
    } finally {
      busy.value = false
    }
  }

  return { error, busy, fields, run }
}
