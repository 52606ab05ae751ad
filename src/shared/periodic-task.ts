/**
 * Runs `pass` now and every `intervalMs`, never two at once: a pass still running when the
 * next is due (a slow gateway, a database away) is not joined by another. `pass` handles its
 * own failures. `stop()` ends the schedule and waits for a pass in progress.
 */
export function startPeriodicTask(pass: () => Promise<void>, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const runOnce = () => {
    if (running) return;
    running = pass().finally(() => {
      running = undefined;
    });
  };
  runOnce();
  const timer = setInterval(runOnce, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
