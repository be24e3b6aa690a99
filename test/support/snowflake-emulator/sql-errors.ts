/**
 * Snowflake-shaped SQL errors the emulator answers with ({ success: false, code, message,
 * data: { sqlState } }), and the mapping of DuckDB's errors onto them.
 *
 * Codes marked "seen" appear in public Snowflake error reports (connector issues, dbt and
 * warehouse tooling logs); codes marked "assumed" are our best reading and may differ on a real
 * account. Nothing here is a Snowflake contract: the point is that the real snowflake-sdk sees
 * the shape Snowflake sends and our driver's classifier sees realistic codes.
 */
export class SnowflakeSqlError extends Error {
  override readonly name = 'SnowflakeSqlError';
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

const compilation = (code: string, sqlState: string, detail: string) =>
  new SnowflakeSqlError(code, sqlState, `SQL compilation error:\n${detail}`);

/** SQL the emulator does not translate: refused loudly rather than run with DuckDB's semantics. */
export function notTranslated(what: string): SnowflakeSqlError {
  return compilation(
    '001003', // seen: "001003 (42000): SQL compilation error: syntax error ..."
    '42000',
    `${what} is not supported by the snowflake-sdk wire emulator (test/support/snowflake-emulator). ` +
      `Translate it in translate.ts, or keep it out of the SQL the product emits.`,
  );
}

export const syntaxError = (detail: string) => compilation('001003', '42000', `syntax error: ${detail}`);

/** seen: "002003 (42S02): SQL compilation error: Object 'X' does not exist or not authorized." */
export const objectMissing = (name: string) =>
  compilation('002003', '42S02', `Object '${name}' does not exist or not authorized.`);

/** seen: "002002 (42710): SQL compilation error: Object 'X' already exists." */
export const objectExists = (name: string) => compilation('002002', '42710', `Object '${name}' already exists.`);

/** seen: "000904 (42000): SQL compilation error: error line 1 at position 7 invalid identifier 'FOO'" */
export const invalidIdentifier = (name: string) =>
  compilation('000904', '42000', `error line 1 at position 0\ninvalid identifier '${name}'`);

/** assumed code: Snowflake's message is "Bind variable :N not set." */
export const bindNotSet = (index: number) =>
  compilation('002049', '42601', `error line 1 at position 0\nBind variable :${index} not set.`);

/** seen: "000008 (0A000): Actual statement count 2 did not match the desired statement count 1." */
export const statementCount = (actual: number) =>
  new SnowflakeSqlError(
    '000008',
    '0A000',
    `Actual statement count ${actual} did not match the desired statement count 1.`,
  );

/** seen: "000630 (57014): Statement reached its statement or warehouse timeout of 120 second(s) and was canceled." */
export const statementTimeout = (seconds: number) =>
  new SnowflakeSqlError(
    '000630',
    '57014',
    `Statement reached its statement or warehouse timeout of ${seconds} second(s) and was canceled.`,
  );

/** seen: "000604 (57014): SQL execution canceled" */
export const executionCanceled = () => new SnowflakeSqlError('000604', '57014', 'SQL execution canceled');

/** assumed code and wording, for an abort of a statement that is not running. */
export const notExecuting = () =>
  new SnowflakeSqlError('000605', '01000', 'Identified SQL statement is not currently executing.');

/** seen in driver constants (390100 INCORRECT_USERNAME_PASSWORD). */
export const badCredentials = () =>
  new SnowflakeSqlError('390100', '08004', 'Incorrect username or password was specified.');

/** assumed code for a key-pair login whose JWT does not verify. */
export const badJwt = () => new SnowflakeSqlError('390144', '08004', 'JWT token is invalid.');

/** The driver's SESSION_TOKEN_INVALID: the session was deleted or never existed. */
export const badSession = () =>
  new SnowflakeSqlError('390104', '08001', 'User must login again to access the service.');

const firstLine = (message: string) => message.split('\n')[0]!.trim();

/** DuckDB's error for a statement that ran, as the Snowflake error closest to it. */
export function fromDuckDb(e: unknown): SnowflakeSqlError {
  if (e instanceof SnowflakeSqlError) return e;
  const message = e instanceof Error ? e.message : String(e);
  let m: RegExpExecArray | null;
  if ((m = /Catalog Error: (?:Table|View|Schema)(?: with name)? "?([^"!\s]+)"? does not exist/i.exec(message))) {
    return objectMissing(m[1]!.toUpperCase());
  }
  if ((m = /Catalog Error: .*with name "?([^"!\s]+)"? already exists/i.exec(message))) {
    return objectExists(m[1]!.toUpperCase());
  }
  if ((m = /Catalog Error: Scalar Function with name (\w+) does not exist/i.exec(message))) {
    // seen: "002140 (42601): ... Unknown function STDEV"
    return compilation('002140', '42601', `Unknown function ${m[1]!.toUpperCase()}`);
  }
  if ((m = /Binder Error: (?:Referenced column|Column) "?([^"\s]+)"? not found/i.exec(message))) {
    return invalidIdentifier(m[1]!.toUpperCase());
  }
  if (/Parser Error/i.test(message)) return syntaxError(firstLine(message));
  const conversion = /Conversion Error: .*?(?:'([^']*)'|"([^"]*)") to (\w+)/i.exec(message);
  if (conversion) {
    const [, single, double, type = ''] = conversion;
    const value = single ?? double ?? '';
    if (/^DATE$/i.test(type)) {
      return new SnowflakeSqlError('100040', '22007', `Date '${value}' is not recognized`); // seen
    }
    if (/^TIMESTAMP/i.test(type)) {
      return new SnowflakeSqlError('100035', '22007', `Timestamp '${value}' is not recognized`); // assumed code
    }
    if (/^(TINYINT|SMALLINT|INT\w*|BIGINT|HUGEINT|DECIMAL|DOUBLE|FLOAT)$/i.test(type)) {
      return new SnowflakeSqlError('100038', '22018', `Numeric value '${value}' is not recognized`); // seen
    }
  }
  if (/Constraint Error: NOT NULL constraint failed/i.test(message)) {
    return new SnowflakeSqlError('100072', '22000', 'NULL result in a non-nullable column'); // seen
  }
  if (/Out of Range Error|overflow/i.test(message)) {
    // assumed code
    return new SnowflakeSqlError('100046', '22003', `Number out of representable range: ${firstLine(message)}`);
  }
  if (/Current transaction is aborted/i.test(message)) {
    // DuckDB aborts a transaction on a failed statement; Snowflake rolls back only the statement.
    return compilation('001003', '25000', `the emulator's transaction was aborted by an earlier failed statement ` +
      `(DuckDB aborts, Snowflake would not); ROLLBACK. ${firstLine(message)}`);
  }
  if (/Transaction conflict|write-write conflict|Conflict on/i.test(message)) {
    // Snowflake would have blocked on the table lock instead; a retry is what it would need.
    return new SnowflakeSqlError(
      '000603',
      'XX000',
      `SQL execution internal error: emulator transaction conflict (${firstLine(message)})`,
    );
  }
  return compilation('001003', '42000', `emulator (DuckDB) refused the translated statement: ${firstLine(message)}`);
}
