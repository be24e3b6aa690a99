/**
 * Editor help on the spec's JSON Schema: generated here exactly as `backfill schema` does, so a field
 * added to domain/spec/schema.ts without an entry in FIELD_DOCS fails the first test.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeSchema, FIELD_DOCS, SPEC_DOC } from '../../../domain/spec/field-docs';
import { specSchema } from '../../../domain/spec/schema';

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

const generated = () => z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' }) as Node;

/**
 * Every node that has a YAML path, found by looking at every key of every node (independently of
 * describeSchema's walk): `properties` entries ("a.b"), `items` ("a[]"), `additionalProperties` ("a.*").
 */
function namedNodes(schema: Node): { path: string; node: Node; property: boolean }[] {
  const found: { path: string; node: Node; property: boolean }[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) return value.forEach((v) => walk(v, path));
    if (!isNode(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'properties' && isNode(child)) {
        for (const [name, prop] of Object.entries(child)) {
          const p = path ? `${path}.${name}` : name;
          if (isNode(prop)) found.push({ path: p, node: prop, property: true });
          walk(prop, p);
        }
      } else if ((key === 'items' || key === 'additionalProperties') && isNode(child)) {
        const p = key === 'items' ? `${path}[]` : `${path}.*`;
        found.push({ path: p, node: child, property: false });
        walk(child, p);
      } else {
        walk(child, path);
      }
    }
  };
  walk(schema, '');
  return found;
}

describe('describeSchema on the spec', () => {
  it('gives the spec and every property, however nested, a description', () => {
    const described = describeSchema(generated());
    const properties = namedNodes(described).filter((n) => n.property);
    // Nested objects, list entries (checks[], monitors[]) and map values (measures.<column>) all reached.
    expect(properties.length).toBeGreaterThan(70);
    expect(properties.map((p) => p.path)).toEqual(expect.arrayContaining([
      'execution.live_pipeline.poll_interval',
      'execution.pause_windows[].start',
      'validation.measures.*.batch_delta',
      'validation.checks[].severity',
      'rollback.monitors[].on_breach',
    ]));
    const missing = properties
      .filter(({ node }) => typeof node.description !== 'string' || node.description.trim() === '')
      .map((p) => p.path);
    expect(missing, 'add these to FIELD_DOCS in domain/spec/field-docs.ts').toEqual([]);
    expect(described.description).toBe(SPEC_DOC);
  });

  it('documents no field the schema does not have', () => {
    const paths = new Set(namedNodes(generated()).map((n) => n.path));
    expect(Object.keys(FIELD_DOCS).filter((p) => !paths.has(p))).toEqual([]);
  });

  it('states each default the schema declares', () => {
    const stale = namedNodes(generated())
      .filter(({ node }) => ['string', 'number', 'boolean'].includes(typeof node.default))
      .filter(({ path, node }) => {
        const said = FIELD_DOCS[path]?.description.toLowerCase() ?? '';
        return !said.includes(`default ${String(node.default)}`);
      })
      .map(({ path, node }) => `${path} (default ${String(node.default)})`);
    expect(stale).toEqual([]);
  });

  it('is plain text an editor shows as is', () => {
    const marked = Object.entries(FIELD_DOCS).filter(([, d]) => /`|\*\*|\]\(/.test(d.description)).map(([p]) => p);
    expect(marked).toEqual([]);
  });

  it('says what the README says on the fields people get wrong', () => {
    const d = (path: string) => FIELD_DOCS[path]!.description;
    expect(d('validation.measures.*.expected_delta')).toMatch(/whole range/);
    expect(d('validation.measures.*.expected_delta')).toMatch(/completion check/);
    expect(d('validation.measures.*.batch_delta')).toMatch(/Defaults to expected_delta/);
    expect(d('validation.measures.*.partition_delta')).toMatch(/Not checked when absent/);
    expect(d('approval.require_signature')).toMatch(/trusted keys file \(BACKFILL_TRUSTED_KEYS\)/);
    expect(d('execution.query_timeout')).toContain('1s to 7d');
    expect(d('validation.checks')).toContain('at most 20');
    expect(d('rollback.monitors[].on_breach')).toMatch(/rolls back by itself/);
  });

  it('puts descriptions and examples on the generated nodes, leaving its input unchanged', () => {
    const raw = generated();
    const before = JSON.stringify(raw);
    type Measure = Node & { properties: Record<string, Node> };
    const described = describeSchema(raw) as {
      properties: { validation: { properties: { measures: { additionalProperties: Measure } } } };
    };
    expect(JSON.stringify(raw)).toBe(before);
    const measure = described.properties.validation.properties.measures.additionalProperties;
    expect(measure.description).toBe(FIELD_DOCS['validation.measures.*']!.description);
    expect(measure.properties.batch_delta).toEqual({
      ...FIELD_DOCS['validation.measures.*.batch_delta'],
      type: 'string',
    });
    expect(Object.keys(measure.properties.abs_tolerance!)[0]).toBe('description');
  });
});

describe('describeSchema through wrappers and references', () => {
  it('follows anyOf, $ref into $defs, items and additionalProperties by the path they stand for', () => {
    const schema = {
      type: 'object',
      properties: {
        validation: { anyOf: [{ $ref: '#/$defs/Validation' }, { type: 'null' }] },
        rollback: {
          oneOf: [{ type: 'object', properties: { monitors: { type: 'array', items: { $ref: '#/$defs/Monitor' } } } }],
        },
      },
      $defs: {
        Validation: {
          type: 'object',
          properties: {
            measures: {
              type: 'object',
              additionalProperties: { type: 'object', properties: { batch_delta: { type: 'string' } } },
            },
          },
        },
        Monitor: { type: 'object', properties: { on_breach: { type: 'string' }, next: { $ref: '#/$defs/Monitor' } } },
      },
    };
    const out = describeSchema(schema);
    const help = (path: string) => FIELD_DOCS[path]!.description;
    expect(out.properties.validation).toMatchObject({ description: help('validation') });
    expect(out.$defs.Validation.properties.measures.additionalProperties.properties.batch_delta)
      .toMatchObject({ description: help('validation.measures.*.batch_delta') });
    expect(out.properties.rollback.oneOf[0]!.properties.monitors.items)
      .toMatchObject({ description: help('rollback.monitors[]') });
    // A self-reference ends the walk instead of recursing forever.
    expect(out.$defs.Monitor.properties.on_breach)
      .toMatchObject({ description: help('rollback.monitors[].on_breach') });
    expect(schema.properties.validation).not.toHaveProperty('description');
  });
});
