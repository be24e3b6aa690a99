/**
 * Editor help on the release graph spec's JSON Schema: a field added to domain/graph/schema.ts
 * without an entry in GRAPH_FIELD_DOCS fails the first test, as for the single spec.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeGraphSchema, GRAPH_DOC, GRAPH_FIELD_DOCS } from '../../../domain/graph/field-docs';
import { graphSchema } from '../../../domain/graph/schema';
import { FIELD_DOCS } from '../../../domain/spec/field-docs';

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

const generated = () => z.toJSONSchema(graphSchema, { io: 'input', unrepresentable: 'any' }) as Node;

/** Every node with a YAML path: `properties` entries ("a.b"), `items` ("a[]"), `additionalProperties` ("a.*"). */
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

describe('describeGraphSchema', () => {
  it('gives the graph spec and every property, however nested, a description', () => {
    const described = describeGraphSchema(generated());
    const properties = namedNodes(described).filter((n) => n.property);
    expect(properties.length).toBeGreaterThan(90);
    expect(properties.map((p) => p.path)).toEqual(expect.arrayContaining([
      'release_id',
      'execution.pause_windows[].start',
      'nodes[].id',
      'nodes[].grain',
      'nodes[].inputs',
      'nodes[].target.shadow_table',
      'nodes[].transform.sql_file',
      'nodes[].validation.measures.*.batch_delta',
      'nodes[].execution.max_concurrency',
      'nodes[].rollback.snapshot',
      'nodes[].rollback.monitors[].on_breach',
    ]));
    const missing = properties
      .filter(({ node }) => typeof node.description !== 'string' || node.description.trim() === '')
      .map((p) => p.path);
    expect(missing, 'add these to GRAPH_FIELD_DOCS in domain/graph/field-docs.ts').toEqual([]);
    expect(described.description).toBe(GRAPH_DOC);
  });

  it('documents no field the schema does not have', () => {
    const paths = new Set(namedNodes(generated()).map((n) => n.path));
    expect(Object.keys(GRAPH_FIELD_DOCS).filter((p) => !paths.has(p))).toEqual([]);
  });

  it('states each default the schema declares', () => {
    const stale = namedNodes(generated())
      .filter(({ node }) => ['string', 'number', 'boolean'].includes(typeof node.default))
      .filter(({ path, node }) => {
        const said = GRAPH_FIELD_DOCS[path]?.description.toLowerCase() ?? '';
        return !said.includes(`default ${String(node.default)}`);
      })
      .map(({ path, node }) => `${path} (default ${String(node.default)})`);
    expect(stale).toEqual([]);
  });

  it('is plain text an editor shows as is', () => {
    const marked = Object.entries(GRAPH_FIELD_DOCS)
      .filter(([, d]) => /`|\*\*|\]\(/.test(d.description))
      .map(([p]) => p);
    expect(marked).toEqual([]);
  });

  it("says what a node's fields mean in a release, and reuses the spec's help for the shared blocks", () => {
    const d = (path: string) => GRAPH_FIELD_DOCS[path]!.description;
    expect(d('nodes[].transform.sql')).toContain("{{ ref('schema.table') }}");
    expect(d('nodes[].grain')).toMatch(/same as or coarser/);
    expect(d('nodes[].id')).toMatch(/Default the last part of target\.table/);
    expect(d('nodes[].rollback.snapshot')).toContain('<target.table>_pre_<release_id>');
    expect(d('execution')).toMatch(/defaults for every node/);
    expect(d('nodes[].execution')).toMatch(/overrides/);
    expect(GRAPH_FIELD_DOCS['nodes[].validation.measures.*.batch_delta'])
      .toEqual(FIELD_DOCS['validation.measures.*.batch_delta']);
    expect(GRAPH_FIELD_DOCS['execution.query_timeout']).toEqual(FIELD_DOCS['execution.query_timeout']);
  });

  it("leaves the single spec's help as it was", () => {
    expect(Object.keys(FIELD_DOCS).some((p) => p.startsWith('nodes'))).toBe(false);
  });
});
