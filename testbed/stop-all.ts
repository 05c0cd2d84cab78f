/** Something a suite started: a process it stops, or a client it closes. */
export type Started = { stop(): Promise<unknown> | void } | { close(): void };

/**
 * Stops what a suite started, in the order given (callers list the last started first). A piece
 * that never started (a set-up that failed half way) is skipped, and every piece is stopped even
 * when an earlier one fails; the first failure is thrown at the end.
 */
export async function stopAll(...pieces: (Started | undefined)[]): Promise<void> {
  let failure: unknown;
  for (const piece of pieces) {
    try {
      if (piece === undefined) continue;
      if ('stop' in piece) await piece.stop();
      else piece.close();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}
