import { describe, expect, it } from 'vitest';
import { canonicalJson, digestedDecision, keyIdOf, sha256Hex, signedMessage } from '../../domain/decision-digest';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined, so equal values give equal text', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: undefined } }))
      .toBe('{"a":{"d":[2,{"y":null,"z":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });
});

describe('sha256Hex', () => {
  it('is SHA-256 (the FIPS 180-2 test vector)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('digestedDecision', () => {
  it('names the decisions that act on what a person read, and only those', () => {
    expect(['approve', 'reject', 'rollback', 'signoff'].map((d) => digestedDecision(d, {}))).toEqual([
      'approve', 'reject', 'rollback', 'signoff',
    ]);
    expect(digestedDecision('resolve', { action: 'accept' })).toBe('accept');
    expect(digestedDecision('resolve', { action: 'retry' })).toBeNull();
    expect(digestedDecision('resolve', null)).toBeNull();
    expect(digestedDecision('cancel', {})).toBeNull();
  });
});

describe('signedMessage', () => {
  const base = {
    backfillId: 'FIN-1', decision: 'approve' as const, by: ' Finance-Controller ', digest: 'ab', text: 'ok',
  };
  it('covers the backfill, decision, who (as names compare), digest and text', () => {
    expect(signedMessage(base)).toBe('{"backfill_id":"FIN-1","by":"finance-controller","decision":"approve",' +
      '"digest":"ab","text":"ok","v":1}');
    for (const change of [{ backfillId: 'FIN-2' }, { decision: 'reject' as const }, { digest: 'cd' }, { text: null }]) {
      expect(signedMessage({ ...base, ...change })).not.toBe(signedMessage(base));
    }
  });
});

describe('keyIdOf', () => {
  it('is 16 hex characters of the public key\'s SHA-256', () => {
    expect(keyIdOf(new Uint8Array(32))).toBe('66687aadf862bd77');
  });
});
