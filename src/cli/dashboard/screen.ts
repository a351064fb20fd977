/**
 * The live dashboard. On a terminal: the alternate screen (the shell's scrollback is left as it
 * was), redrawn every second, on every new snapshot and on keys, and the terminal restored however
 * it ends. Anywhere else (a pipe, a log file): a plain snapshot per interval, no control codes.
 */
import { emitKeypressEvents } from 'node:readline';
import type { CliError } from '../common.ts';
import { handleKey, type Key } from './keys.ts';
import { clockTime, type DashboardView, problemLine, renderDashboard } from './render.ts';
import type { DashboardSession } from './session.ts';

const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
export const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';
const CLOCK_MS = 1000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface ScreenStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/** Runs until quit (q, Ctrl-C, SIGINT/SIGTERM/SIGHUP); rejects only when the session is fatal. */
export function runDashboard(session: DashboardSession, streams: ScreenStreams): Promise<void> {
  return streams.stdout.isTTY ? runTerminal(session, streams) : runPlain(session, streams.stdout);
}

/** Terminal height, so a terminal asks the hub for no more tasks than it can show. */
export function terminalRows(stdout: NodeJS.WriteStream): number {
  return stdout.isTTY && stdout.rows > 0 ? stdout.rows : 24;
}

function viewOf(session: DashboardSession, keys: DashboardView['keys']): DashboardView {
  const { connection, problem, snapshot } = session.state;
  return {
    hub: session.hub,
    now: Date.now() / 1000,
    connection,
    problem,
    snapshot,
    filter: session.filter,
    keys,
  };
}

/** Stop on a signal; returns the function that removes the handlers. */
function onSignals(stop: () => void): () => void {
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
  };
}

function runTerminal(session: DashboardSession, { stdin, stdout }: ScreenStreams): Promise<void> {
  return new Promise((resolve, reject) => {
    const keysOn = stdin.isTTY === true;
    let draft: string | null = null;
    let lastFrame = '';
    let finished = false;

    const draw = () => {
      if (finished) return;
      // The last column stays empty: a character there leaves the cursor in the terminal's
      // pending-wrap state, where clearing to the end of the line would erase that character.
      const columns = stdout.columns > 0 ? stdout.columns : 80;
      const size = { width: Math.max(1, columns - 1), height: terminalRows(stdout) };
      const lines = renderDashboard(viewOf(session, keysOn ? { search: draft } : null), size);
      // Each line overwritten in place (then cleared to its end) rather than clearing the screen,
      // which would flicker on every redraw.
      // Below the last line, clear what a longer frame left; on a full screen that would be the
      // key line itself (the cursor cannot go past the last row).
      const rest = lines.length < size.height ? `\x1b[${lines.length + 1};1H\x1b[J` : '';
      const frame = `${lines.map((line, row) => `\x1b[${row + 1};1H${line}\x1b[K`).join('')}${rest}`;
      if (frame === lastFrame) return;
      lastFrame = frame;
      stdout.write(frame);
    };
    // A resized terminal may have reflowed the old frame: start from a blank screen.
    const redrawAll = () => {
      lastFrame = '';
      stdout.write('\x1b[2J');
      draw();
    };

    const restore = () => {
      if (keysOn) {
        stdin.setRawMode(false);
        stdin.pause();
      }
      stdout.write(LEAVE_SCREEN);
    };
    const finish = (error?: CliError) => {
      if (finished) return;
      finished = true;
      clearInterval(clock);
      session.stop();
      session.off('change', draw);
      session.off('fatal', finish);
      stdout.off('resize', redrawAll);
      stdout.off('error', onOutputError);
      stdin.off('keypress', onKey);
      removeSignals();
      process.off('exit', restore);
      restore();
      if (error) reject(error);
      else resolve();
    };
    // The terminal is closed or gone: nothing left to draw on.
    const onOutputError = () => finish();

    const onKey = (_text: string | undefined, key: Key | undefined) => {
      const result = handleKey(key ?? {}, {
        draft,
        filter: session.filter,
        backends: session.state.backends,
      });
      draft = result.draft;
      const action = result.action;
      if (action.type === 'quit') return finish();
      if (action.type === 'refresh') session.refresh(0);
      if (action.type === 'filter') session.setFilter(action.filter);
      if (action.type !== 'none') draw();
    };

    stdout.write(ENTER_SCREEN);
    // If something throws past us, the shell still gets its screen and cursor back.
    process.once('exit', restore);
    const removeSignals = onSignals(() => finish());
    stdout.on('error', onOutputError);
    stdout.on('resize', redrawAll);
    if (keysOn) {
      emitKeypressEvents(stdin);
      stdin.setRawMode(true);
      stdin.on('keypress', onKey);
      stdin.resume();
    }
    session.on('change', draw);
    session.on('fatal', finish);
    const clock = setInterval(draw, CLOCK_MS);
    session.start();
    draw();
  });
}

function runPlain(session: DashboardSession, stdout: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let finished = false;
    const print = () => {
      const view = viewOf(session, null);
      const problem = problemLine(view);
      // Down: one line per attempt; the stale snapshot was printed already.
      const text =
        view.connection === 'connected' || !problem
          ? `${renderDashboard(view, { width: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY }).join('\n')}\n\n`
          : `${clockTime(view.now)} ${problem}\n`;
      stdout.write(text);
    };
    const finish = (error?: CliError) => {
      if (finished) return;
      finished = true;
      session.stop();
      session.off('change', print);
      session.off('fatal', finish);
      stdout.off('error', onOutputError);
      removeSignals();
      if (error) reject(error);
      else resolve();
    };
    // A reader that went away (`mittelo dashboard | head`) ends the dashboard quietly.
    const onOutputError = () => finish();
    const removeSignals = onSignals(() => finish());
    stdout.on('error', onOutputError);
    session.on('change', print);
    session.on('fatal', finish);
    session.start();
  });
}
