/**
 * What the bench measured and how it is shown: one Figure per measured number, printed next to
 * its target from the issue and the v0.1 baseline, a summary table at the end, and everything as
 * JSON for later comparison.
 */

export interface Target {
  op: '>=' | '<=' | '<';
  value: number;
}

export interface Baseline {
  /** null when v0.1 has no such figure; `text` then says why. */
  value: number | null;
  sameRun: boolean;
  text?: string;
}

/** The same figure measured on a peer queue in the same run (BullMQ on Redis), for its ratio. */
export interface PeerValue {
  name: string;
  /** null when the peer could not be measured here; `text` then says why. */
  value: number | null;
  text?: string;
}

export interface Figure {
  scenario: string;
  label: string;
  /** null when the figure could not be measured; `note` says why. */
  value: number | null;
  unit: string;
  better: 'higher' | 'lower';
  target?: Target;
  baseline?: Baseline;
  peer?: PeerValue;
  note?: string;
  digits?: number;
}

export type Verdict = 'PASS' | 'MISS' | 'SKIP' | '';

export function verdict(figure: Figure): Verdict {
  if (figure.value === null) return 'SKIP';
  if (!figure.target) return '';
  const { op, value } = figure.target;
  const ok = op === '>=' ? figure.value >= value : op === '<=' ? figure.value <= value : figure.value < value;
  return ok ? 'PASS' : 'MISS';
}

/** How far the figure is from its target, as a signed percentage of the target (negative = short). */
export function marginPercent(figure: Figure): number | null {
  if (figure.value === null || !figure.target || figure.target.value === 0) return null;
  const delta = figure.value - figure.target.value;
  return (100 * (figure.better === 'higher' ? delta : -delta)) / figure.target.value;
}

export function formatNumber(value: number, digits?: number): string {
  const places = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: places, maximumFractionDigits: places });
}

/** Baselines are coarse (500 ms, 2,400/s): no decimals once they are large. */
function formatBaselineValue(value: number, figure: Figure): string {
  return formatNumber(value, value >= 100 ? 0 : figure.digits);
}

function baselineUnit(unit: string): string {
  return unit === 'tasks/s' ? '/s' : ` ${unit}`;
}

export function formatTarget(figure: Figure): string {
  return figure.target ? `target ${figure.target.op} ${formatNumber(figure.target.value, 0)}` : '(no target)';
}

export function formatBaseline(figure: Figure): string {
  const base = figure.baseline;
  if (!base) return '';
  if (base.value === null) return `v0.1 ${base.text ?? 'n/a'}`;
  const where = base.sameRun ? 'same run' : 'not same-run';
  const text = `v0.1 ${formatBaselineValue(base.value, figure)}${baselineUnit(figure.unit)} (${base.text ?? where})`;
  const ratio = improvement(figure);
  return ratio === null ? text : `${text}  ${ratio}`;
}

/** "x12.97" for more-is-better figures, "x420 lower" for less-is-better ones (against v0.1). */
export function improvement(figure: Figure): string | null {
  return ratioTo(figure, figure.baseline?.value);
}

/** The figure against `base` (v0.1's or a peer's value), as improvement() writes it. */
function ratioTo(figure: Figure, base: number | null | undefined): string | null {
  if (base === null || base === undefined || figure.value === null || figure.value <= 0 || base <= 0) {
    return null;
  }
  if (figure.better === 'higher') return `x${formatNumber(figure.value / base, 2)}`;
  return `x${formatNumber(base / figure.value, base / figure.value >= 100 ? 0 : 2)} lower`;
}

/** "BullMQ 23,545/s x0.95", or why the peer was not measured. */
export function formatPeer(figure: Figure): string {
  const peer = figure.peer;
  if (!peer) return '';
  if (peer.value === null) return `${peer.name} ${peer.text ?? 'not measured'}`;
  const ratio = ratioTo(figure, peer.value);
  const text = `${peer.name} ${formatBaselineValue(peer.value, figure)}${baselineUnit(figure.unit)}`;
  return ratio === null ? text : `${text} ${ratio}`;
}

/** One line: label, value, unit, target, PASS/MISS, baseline and ratio, the peer and its ratio. */
export function formatFigure(figure: Figure): string {
  const value =
    figure.value === null ? 'skipped' : `${formatNumber(figure.value, figure.digits)} ${figure.unit}`;
  const result = verdict(figure);
  const parts = [
    figure.label.padEnd(30),
    value.padStart(18),
    `  ${formatTarget(figure).padEnd(18)}`,
    ` ${result === 'SKIP' ? '' : result}`.padEnd(7),
    formatBaseline(figure),
    figure.peer ? `  ${formatPeer(figure)}` : '',
  ];
  const line = parts.join('').trimEnd();
  return figure.note ? `${line}\n${''.padEnd(32)}${figure.note}` : line;
}

function peerText(figure: Figure): string {
  const peer = figure.peer;
  if (!peer) return '';
  return peer.value === null
    ? (peer.text ?? 'not measured')
    : `${formatBaselineValue(peer.value, figure)}${baselineUnit(figure.unit)}`;
}

/** The closing table, as Markdown (it reads in a terminal and pastes into docs). */
export function summaryTable(figures: Figure[]): string {
  const header = [
    'Scenario',
    'Figure',
    'Measured',
    'Target',
    'Result',
    'v0.1 baseline',
    'vs v0.1',
    'BullMQ',
    'vs BullMQ',
  ];
  const rows = figures.map((figure) => {
    const base = figure.baseline;
    let baseText = '';
    if (base) {
      baseText =
        base.value === null
          ? (base.text ?? 'n/a')
          : `${formatBaselineValue(base.value, figure)}${baselineUnit(figure.unit)} (${base.sameRun ? 'same run' : 'not same-run'})`;
    }
    return [
      figure.scenario,
      figure.label,
      figure.value === null ? `skipped` : `${formatNumber(figure.value, figure.digits)} ${figure.unit}`,
      figure.target ? `${figure.target.op} ${formatNumber(figure.target.value, 0)}` : '',
      verdict(figure),
      baseText,
      improvement(figure) ?? '',
      peerText(figure),
      figure.peer ? (ratioTo(figure, figure.peer.value) ?? '') : '',
    ];
  });
  // The BullMQ columns only when some figure has a peer (a run with --only of another scenario).
  const columns = figures.some((figure) => figure.peer) ? header.length : header.length - 2;
  header.length = columns;
  for (const row of rows) row.length = columns;
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
