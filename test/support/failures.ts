/** Assertions on what the product throws, by type (STYLE: failures are asserted by type, not "it threw"). */
import { expect } from 'vitest';
import { BackfillFailure, type BackfillErrorType } from '../../contracts/errors';

/** Runs `fn`, which must throw a BackfillFailure of `code`; returns it. */
export function failureOf(fn: () => unknown, code: BackfillErrorType): BackfillFailure {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a BackfillFailure').toBeInstanceOf(BackfillFailure);
  const failure = thrown as BackfillFailure;
  expect(failure.code, failure.message).toBe(code);
  return failure;
}
