import { CheckError } from './errors.js'
import type { CheckOptions, CheckReport } from './types.js'

export async function checkRollout (options: CheckOptions): Promise<CheckReport> {
  void options
  throw new CheckError('CHECK_ERR_HAPROXY', 'not yet')
}
