/**
 * Decisions prove what and who: each carries the digest of the state it decides on and is refused
 * when that state has moved since; with approval.require_signature it must be signed by a key in
 * the worker's trusted keys file, belonging to the person named in `by`. Real worker, real dev
 * server, real DuckDB, real Ed25519 keys (client/keys.ts, as `backfill keygen` makes them); every
 * refusal leaves production and the set of tables as they were.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keygen, readKeyFile, signDecision, type KeyFile } from '../../client/keys';
import { ExitCode } from '../../client/exit-codes';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import type { BackfillSpec } from '../../domain/spec/schema';
import { ControlStore } from '../../warehouse/control-store';
import { backfillWith } from '../support/cli';
import { testSpec, waitForStatus, useLabs } from '../support/backfill-harness';
import { auditOf, productionFingerprint, tableSet, updateRefusal } from './support';

const week = (s: BackfillSpec) => {
  s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-07' };
};
const signed = (s: BackfillSpec) => {
  week(s);
  s.approval = { ...s.approval!, require_signature: true };
};

async function keyFor(dir: string, name: string, file: string): Promise<KeyFile> {
  await keygen(name, join(dir, file));
  return readKeyFile(join(dir, file));
}

function trustedKeysFile(dir: string, keys: KeyFile[]): string {
  const file = join(dir, 'trusted-keys.yaml');
  writeFileSync(file, `keys:\n${keys.map((k) =>
    `  - key_id: ${k.key_id}\n    name: ${k.name}\n    public_key: ${k.public_key}\n`).join('')}`);
  return file;
}

describe('decisions carry the digest of what they decide on', () => {
  const labs = useLabs();

  it('an accept sent for an earlier halt is refused once the batch was redone; a blind approval too', async () => {
    const l = await labs.newLab();
    const spec = testSpec('stale-digest', (s) => {
      week(s);
      s.measures = s.measures.map((x) =>
        x.column === 'net_revenue' ? { ...x, batch_delta: { min: -0.1, max: 0.1 } } : x,
      );
    });
    const handle = await l.start(spec);
    const first = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(first.decisionDigest).toMatch(/^[0-9a-f]{64}$/);
    const looked = first.decisionDigest!;
    // Someone retries the batch after the approver looked: it is redone, and halts again.
    await handle.executeUpdate(m.resolveUpdate, { args: [{ action: 'retry', by: 'oncall', reason: 'once more' }] });
    const second = await waitForStatus(handle, (s) => s.state === 'halted' && s.halt!.since !== first.halt!.since);
    expect(second.decisionDigest).not.toBe(looked);
    const before = { production: await productionFingerprint(l.warehouse), tables: await tableSet(l.warehouse) };

    const stale = await updateRefusal(handle.executeUpdate(m.resolveUpdate, {
      args: [{ action: 'accept', by: 'head-of-finance-data', reason: 'as I saw it', digest: looked }],
    }));
    expect(stale.type).toBe(BackfillError.NotAllowed);
    expect(stale.message).toContain('the state changed since you looked');
    const blind = await updateRefusal(handle.executeUpdate(m.resolveUpdate, {
      args: [{ action: 'accept', by: 'head-of-finance-data', reason: 'whatever it is' }],
    }));
    expect(blind.message).toContain('needs "digest"');
    expect((await handle.query(m.statusQuery)).state).toBe('halted');
    expect(await productionFingerprint(l.warehouse)).toEqual(before.production);
    expect(await tableSet(l.warehouse)).toEqual(before.tables);

    await handle.executeUpdate(m.resolveUpdate, {
      args: [{ action: 'accept', by: 'head-of-finance-data', reason: 'read it again', digest: second.decisionDigest! }],
    });
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    // The approval's digest covers the reconciled shadow: it differs from the halt's.
    expect(waiting.decisionDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(waiting.decisionDigest).not.toBe(second.decisionDigest);
    const audit = await auditOf(l.warehouse, spec.backfill_id);
    const refusals = audit.filter((a) => a.action === 'resolve_refused').map((a) => String(a.detail.problem));
    expect(refusals.some((p) => p.includes('the state changed since you looked'))).toBe(true);
    const accepted = audit.find((a) => a.action === 'resolve_accept')!;
    expect(accepted.detail).toMatchObject({ digest: second.decisionDigest, key_id: null, signature: null });
    const [checkpoint] = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(checkpoint!.verdict).toBe('accepted');
    await handle.terminate('test over');
  });
});

describe('with approval.require_signature, decisions are signed by a trusted key of whoever decides', () => {
  const labs = useLabs();

  it('refuses unsigned, untrusted, borrowed and altered signatures; a good one publishes and is recorded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-keys-'));
    const controller = await keyFor(dir, 'finance-controller', 'controller.key');
    const head = await keyFor(dir, 'head-of-finance-data', 'head.key');
    const stranger = await keyFor(dir, 'finance-controller', 'stranger.key');
    const l = await labs.newLab({ trustedKeys: trustedKeysFile(dir, [controller, head]) });
    const spec = testSpec('signed', signed);
    const handle = await l.start(spec);
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(waiting.signaturesRequired).toBe(true);
    const digest = waiting.decisionDigest!;
    const before = { production: await productionFingerprint(l.warehouse), tables: await tableSet(l.warehouse) };
    const comment = 'deltas as expected';
    const sign = (key: KeyFile, text: string | null = comment, by = 'finance-controller') =>
      signDecision(key, { backfillId: spec.backfill_id, decision: 'approve', by, digest, text });
    const approve = (req: Record<string, unknown>) =>
      updateRefusal(handle.executeUpdate(m.approveUpdate, {
        args: [{ by: 'finance-controller', comment, digest, ...req }],
      }));

    expect((await approve({})).message).toContain('needs "key_id"');
    expect((await approve({ key_id: stranger.key_id, signature: sign(stranger) })).message)
      .toContain(`key ${stranger.key_id} is not in the worker's trusted keys file`);
    // head-of-finance-data's own key, signing as finance-controller.
    expect((await approve({ key_id: head.key_id, signature: sign(head) })).message)
      .toContain(`belongs to "head-of-finance-data", not "finance-controller"`);
    // Signed for another comment than the one sent.
    expect((await approve({ key_id: controller.key_id, signature: sign(controller, 'something else') })).message)
      .toContain('the signature does not verify');
    expect((await approve({ key_id: controller.key_id, signature: 'AAAA' })).message)
      .toContain('the signature does not verify');
    expect((await handle.query(m.statusQuery)).state).toBe('awaiting_approval');
    expect(await productionFingerprint(l.warehouse)).toEqual(before.production);
    expect(await tableSet(l.warehouse)).toEqual(before.tables);

    const signature = sign(controller);
    const ack = await handle.executeUpdate(m.approveUpdate, {
      args: [{ by: 'finance-controller', comment, digest, key_id: controller.key_id, signature }],
    });
    expect(ack.message).toContain(`signed with key ${controller.key_id}`);
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    const proof = { by: 'finance-controller', digest, keyId: controller.key_id, signature };
    expect(published.release!.approval).toEqual(proof);
    expect((await new ControlStore(l.warehouse).release(published.release!.releaseId))!.approval).toEqual(proof);
    const audit = await auditOf(l.warehouse, spec.backfill_id);
    expect(audit.find((a) => a.action === 'approved')!.detail)
      .toMatchObject({ comment, digest, key_id: controller.key_id, signature });
    expect(audit.find((a) => a.action === 'published')!.detail).toMatchObject({ key_id: controller.key_id });

    // The rollback decides on the release: signed by head-of-finance-data, with the release's digest.
    const released = published.decisionDigest!;
    const reason = 'dashboard totals look wrong';
    await handle.executeUpdate(m.rollbackUpdate, {
      args: [{
        by: 'head-of-finance-data', reason, digest: released, key_id: head.key_id,
        signature: signDecision(head, {
          backfillId: spec.backfill_id, decision: 'rollback', by: 'head-of-finance-data',
          digest: released, text: reason,
        }),
      }],
    });
    expect((await handle.result()).state).toBe('rolled_back');
    expect(await productionFingerprint(l.warehouse)).toEqual(before.production);
    const rolled = (await auditOf(l.warehouse, spec.backfill_id)).find((a) => a.action === 'rolled_back')!;
    expect(rolled.detail).toMatchObject({ digest: released, key_id: head.key_id });
  });

  it('through the CLI: keygen, approve --key --digest (--print for the UI form); ' +
    'someone else\'s key exits 4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-cli-keys-'));
    const env = { TEMPORAL_ADDRESS: labs.env().address, TEMPORAL_NAMESPACE: labs.env().namespace,
      TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml') };
    const made = await backfillWith(env,
      'keygen', '--name', 'finance-controller', '--out', join(dir, 'me.key'), '--json');
    expect(made.code, made.stderr).toBe(ExitCode.ok);
    const entry = JSON.parse(made.stdout) as { kind: string; key_id: string; name: string; public_key: string };
    expect(entry).toMatchObject({ kind: 'trusted_key', name: 'finance-controller' });
    const again = await backfillWith(env, 'keygen', '--name', 'x', '--out', join(dir, 'me.key'));
    expect(again.code).toBe(ExitCode.badInput);
    expect(again.stderr).toContain('already exists');
    const head = await keyFor(dir, 'head-of-finance-data', 'head.key');
    const trusted = join(dir, 'trusted.json');
    writeFileSync(trusted, JSON.stringify({ keys: [
      { key_id: entry.key_id, name: entry.name, public_key: entry.public_key },
      { key_id: head.key_id, name: head.name, public_key: head.public_key },
    ] }));
    const l = await labs.newLab({ trustedKeys: trusted });
    const spec = testSpec('signed-cli', signed);
    const handle = await l.start(spec);
    const digest = (await waitForStatus(handle, (s) => s.state === 'awaiting_approval')).decisionDigest!;
    const status = await backfillWith(env, 'status', spec.backfill_id);
    expect(status.stdout).toContain(`decision digest ${digest} (decisions must be signed: --key)`);

    const unsigned = await backfillWith(env, 'approve', spec.backfill_id, '--by', 'finance-controller',
      '--digest', digest.slice(0, 12));
    expect(unsigned.code).toBe(ExitCode.refused);
    expect(unsigned.stderr).toContain('needs "key_id"');
    const borrowed = await backfillWith(env, 'approve', spec.backfill_id, '--by', 'finance-controller',
      '--digest', digest.slice(0, 12), '--key', join(dir, 'head.key'));
    expect(borrowed.code).toBe(ExitCode.refused);
    expect(borrowed.stderr).toContain('belongs to "head-of-finance-data"');
    const wrong = await backfillWith(env, 'approve', spec.backfill_id, '--by', 'finance-controller',
      '--digest', 'abcdefabcdef', '--key', join(dir, 'me.key'));
    expect(wrong.code).toBe(ExitCode.refused);
    expect(wrong.stderr).toContain('the state changed since you looked');

    // --print: the signed decision's JSON for the UI's signal form; nothing is sent.
    const printed = await backfillWith(env, 'approve', spec.backfill_id, '--by', 'finance-controller',
      '--comment', 'checked the report', '--digest', digest.slice(0, 12), '--key', join(dir, 'me.key'), '--print');
    expect(printed.code, printed.stderr).toBe(ExitCode.ok);
    const payload = JSON.parse(printed.stdout) as { by: string } & Record<string, string>;
    expect(payload)
      .toMatchObject({ by: 'finance-controller', comment: 'checked the report', digest, key_id: entry.key_id });
    expect((await handle.query(m.statusQuery)).state).toBe('awaiting_approval');
    // Sent as the UI's form sends it: a signal with that one JSON object.
    await handle.signal(m.approveSignal, payload);
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    expect(published.approval!.approved).toMatchObject({ by: 'finance-controller', keyId: entry.key_id });
    expect(published.release!.approval).toMatchObject({ digest, keyId: entry.key_id });
    await handle.terminate('test over');
  });
});
