// The supervisor's side of the watchdog's IPC protocol (watchdog.ts has the other side and the
// messages): a standby waits for 'go', and the supervisor says 'stopping' before it exits for good.
// (supervisor.ts also says 'started' once it serves.) Its own file: the handshake with the
// watchdog is a concern apart from running APIs.

/** Tells the watchdog this supervisor stops for good, and waits (2 s at most) until it has gone. */
export async function leaveWatchdog(): Promise<void> {
  if (!process.connected || process.send === undefined) return;
  const send = process.send.bind(process);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    process.once('disconnect', () => {
      clearTimeout(timer);
      resolve();
    });
    send('stopping');
  });
}

/** A standby started by the watchdog waits for its turn ('go'); it ends with its watchdog. */
export async function awaitTurn(): Promise<void> {
  if (process.send === undefined) return;
  const exit = () => process.exit(0);
  process.once('disconnect', exit);
  const turn = new Promise((resolve) => process.once('message', resolve));
  process.send('standby');
  await turn;
  process.off('disconnect', exit);
  process.channel?.unref(); // once running, it outlives its watchdog
}
