/**
 * Ctrl-C and SIGTERM for commands that run agents: the first asks for a graceful stop (running
 * tasks may finish, the rest go back to the queue), the second for an immediate one.
 */
export function onStopSignals(stop: (graceful: boolean) => void): () => void {
  let count = 0;
  const handler = () => {
    count += 1;
    stop(count === 1);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
