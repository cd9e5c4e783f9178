/**
 * A readable timeline of a scenario: each event CloudFormation sent, the stack status, the
 * handler's answer and decision, the KMS calls, and the keys' state at the end.
 */
import { ScenarioContext } from './scenarios';

export function formatTimeline(ctx: ScenarioContext): string {
  const lines: string[] = [];
  const start = ctx.bed.engine.timeline[0]?.at ?? Date.now();
  const t = (at: number) => `+${((at - start) / 1000).toFixed(2)}s`.padStart(8);
  lines.push(`steps: ${ctx.steps.map((s, i) => `${i + 1}. ${s}`).join('  ')}`);
  // Entries of nested stacks name their stack (its logical ID in the parent) before the resource.
  const where = (e: (typeof ctx.bed.engine.timeline)[number]) => {
    const nested = e.stackId ? ctx.bed.engine.stacks.find((s) => s.stackId === e.stackId && s.parent) : undefined;
    return nested ? `[${nested.logicalIdInParent}] ` : '';
  };
  for (const e of ctx.bed.engine.timeline) {
    if (e.requestType) {
      const d = e.decision;
      lines.push(`${t(e.at)} ${e.stackStatus.padEnd(44)} ${e.requestType.padEnd(6)} ${where(e)}${e.logicalId}: ${e.responseStatus}` +
        (d ? ` — ${d.decision}: ${d.reason}` : '') + (e.reason && !d?.reason?.includes(e.reason) ? ` (reason: ${e.reason})` : '') +
        (d?.materialIds?.length ? ` [materials: ${d.materialIds.map((m: string) => m.slice(0, 8)).join(', ')}]` : ''));
    } else {
      lines.push(`${t(e.at)} ${e.stackStatus.padEnd(44)} ${''.padEnd(6)} ${where(e)}${e.logicalId}: ${e.detail}`);
    }
  }
  const calls = new Map<string, number>();
  for (const c of ctx.bed.kms.calls) {
    const k = `${c.op} ${c.status === 200 ? 'ok' : c.errorType ?? c.status}`;
    calls.set(k, (calls.get(k) ?? 0) + 1);
  }
  lines.push(`KMS calls: ${[...calls].map(([k, n]) => `${k} x${n}`).join(', ') || 'none'}`);
  const cfnCalls = new Map<string, number>();
  for (const c of ctx.bed.cfn.calls) cfnCalls.set(c.op, (cfnCalls.get(c.op) ?? 0) + 1);
  lines.push(`CloudFormation calls: ${[...cfnCalls].map(([k, n]) => `${k} x${n}`).join(', ') || 'none'}`);
  const arns = new Set<string>([...Object.values(ctx.keys)]);
  for (const r of ctx.bed.engine.resources.values()) if (r.type === 'AWS::KMS::Key' && r.arn) arns.add(r.arn);
  for (const arn of arns) {
    const key = ctx.bed.kms.key(arn);
    if (!key) continue;
    lines.push(`key ${arn}: ${key.state}; materials ${key.materials.map((m) => `${m.id.slice(0, 8)} ${m.state}/${m.importState}`).join(', ') || 'none'}`);
  }
  return lines.join('\n');
}
