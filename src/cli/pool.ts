/**
 * task(0), task(1), … task(count - 1), started in that order, at most `concurrency` at once. Once
 * `stopped()` is true no more are started; those running finish.
 */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>, stopped: () => boolean): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count && !stopped()) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
