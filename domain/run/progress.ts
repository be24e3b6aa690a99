/**
 * Progress in words: the Temporal UI's "current details" (Markdown) and the measure line the
 * approval prompt shows. People count batches from 1 here, as everywhere.
 */
import type { BackfillStatus } from '../../contracts/status';

/** "revenue 1.234%, tax n/a": how each measure moved. */
export function measureMoves(measures: ReadonlyArray<{ column: string; deltaPct: number | null }>): string {
  return measures.map((x) => `${x.column} ${x.deltaPct === null ? 'n/a' : `${x.deltaPct.toFixed(3)}%`}`).join(', ');
}

/** Where the backfill stands right now, one paragraph per fact. */
/**
 * JSON examples in a text as inline code: the UI's Markdown would otherwise turn their quotes into
 * curly ones, and a copied example would fail as "Input must be valid JSON".
 */
export const codeJson = (text: string): string => text.replace(/\{"[^{}]*\}/g, (json) => `\`${json}\``);

export function currentDetails(status: BackfillStatus): string {
  const v = status.lastVerdict;
  const r = status.release;
  const refusal = status.lastRefusal;
  return [
    `**${status.state}** — ${codeJson(status.phase)}`,
    `Partitions ${status.partitions.done}/${status.partitions.total} · batches ` +
      `${status.batches.done}/${status.batches.total}` +
      (status.eta && status.state === 'running' ? ` · ETA ${status.eta}` : ''),
    status.proof?.batchMode ? `Batches rewritten ${status.proof.batchMode.reason}` : null,
    v ? `Last batch ${v.index + 1} (${v.first}..${v.last}): ${v.verdict}; ${measureMoves(v.measures)}` : null,
    status.pause ? `Paused (${status.pause.kind}): ${status.pause.reason}` : null,
    status.halt ? `Halted: ${codeJson(status.halt.reason)}` : null,
    r ? `Release ${r.releaseId} (${r.status}); rollback until ${r.rollbackExpiresAt}` : null,
    status.monitors?.results.length
      ? `Monitors: ${status.monitors.results.map((r) => (r.ok ? `${r.name} ok (${r.value})` : `**${r.message}**`))
        .join(' · ')}`
      : null,
    status.decisionDigest
      ? `Decision digest: \`${status.decisionDigest}\` — send it as "digest" with your decision` +
        (status.signaturesRequired ? ', signed (`backfill ... --key FILE`)' : '')
      : null,
    refusal
      ? `Last refused: ${refusal.request} from "${refusal.by}"${refusal.at ? ` at ${refusal.at}` : ''}: ` +
        codeJson(refusal.reason)
      : null,
  ].filter(Boolean).join('\n\n');
}
