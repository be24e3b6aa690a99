import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSignature, loadTrustedKeys, TRUSTED_KEYS_LIMITS } from '../../activities/trusted-keys';
import { keygen, readKeyFile, signDecision } from '../../client/keys';
import { signedMessage } from '../../domain/decision-digest';

const dir = mkdtempSync(join(tmpdir(), 'trusted-keys-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const decision = {
  backfillId: 'FIN-1', decision: 'approve' as const, by: 'finance-controller', digest: 'ab', text: 'ok',
};
const refusal = (text: string) => ({ problem: expect.stringContaining(text) as unknown });

describe('the trusted keys file', () => {
  it('refuses a missing, oversized, malformed or inconsistent file, naming the file and field', async () => {
    expect(await loadTrustedKeys(join(dir, 'nope.yaml'))).toMatchObject(refusal('cannot read'));
    const big = write('big.yaml', 'x'.repeat(TRUSTED_KEYS_LIMITS.fileBytes + 1));
    expect(await loadTrustedKeys(big)).toMatchObject({ problem: expect.stringContaining('more than 262144') });
    expect(await loadTrustedKeys(write('list.yaml', '- a'))).toMatchObject(refusal('list.yaml'));
    const badId = write('id.yaml', 'keys:\n  - key_id: zz\n    name: a\n    public_key: x\n');
    expect(await loadTrustedKeys(badId)).toMatchObject({ problem: expect.stringContaining('keys.0.key_id') });
    const key = await keygen('finance-controller', join(dir, 'a.key'));
    const mismatch = write('mismatch.yaml',
      `keys:\n  - key_id: 0123456789abcdef\n    name: a\n    public_key: ${key.public_key}\n`);
    expect(await loadTrustedKeys(mismatch)).toMatchObject(refusal('does not match its public_key'));
  });

  it('verifies a signature made by keygen\'s key, and nothing else', async () => {
    const entry = await keygen('finance-controller', join(dir, 'b.key'));
    const key = await readKeyFile(join(dir, 'b.key'));
    const file = write('trusted.json', JSON.stringify({ keys: [entry] }));
    const signature = signDecision(key, decision);
    const message = signedMessage(decision);
    expect(await checkSignature(file, { message, keyId: entry.key_id, signature }))
      .toEqual({ ok: true, keyId: entry.key_id, name: 'finance-controller' });
    const other = signedMessage({ ...decision, digest: 'cd' });
    expect(await checkSignature(file, { message: other, keyId: entry.key_id, signature }))
      .toMatchObject({ ok: false, problem: expect.stringContaining('does not verify') });
    expect(await checkSignature(file, { message, keyId: 'ffffffffffffffff', signature }))
      .toMatchObject({ ok: false, problem: expect.stringContaining('not in the worker\'s trusted keys file') });
    expect(await checkSignature(undefined, { message, keyId: entry.key_id, signature }))
      .toMatchObject({ ok: false, problem: expect.stringContaining('BACKFILL_TRUSTED_KEYS') });
  });
});
