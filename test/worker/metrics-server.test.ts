/** The /metrics endpoint over real HTTP on a port the OS picks. */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../worker/metrics';
import { serveMetrics, type MetricsServer, type ScrapedRegistry } from '../../worker/metrics-server';
import { parseExposition } from './exposition';

const servers: MetricsServer[] = [];
const serve = async (registry: ScrapedRegistry) => {
  const s = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
  servers.push(s);
  return s;
};
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('serveMetrics', () => {
  it('serves the current exposition at GET /metrics with the registry\'s content type (0.0.4)', async () => {
    const metrics = new Metrics();
    const server = await serve(metrics.registry);
    expect(server.url).toBe(`http://127.0.0.1:${server.address.port}/metrics`);
    expect(server.address.port).toBeGreaterThan(0);

    metrics.partitionRewritten('fix-a', 12, 100);
    const first = await fetch(server.url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = parseExposition(await first.text());
    expect(body.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(12);
    expect(body.types.get('process_cpu_user_seconds_total')).toBe('counter');

    // Each scrape renders afresh.
    metrics.partitionRewritten('fix-a', 3, 100);
    const again = parseExposition(await (await fetch(`${server.url}?x=1`)).text());
    expect(again.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(15);

    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses other paths and methods, and reports a failed render as 500', async () => {
    const server = await serve({
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () => Promise.reject(new Error('registry broke')),
    });
    const base = `http://127.0.0.1:${server.address.port}`;
    const notFound = await fetch(`${base}/`);
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toContain('/metrics');
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const broken = await fetch(`${base}/metrics`);
    expect(broken.status).toBe(500);
    expect(await broken.text()).toContain('registry broke');
  });

  it('says which address it could not listen on', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(serveMetrics(new Metrics().registry, { host: '127.0.0.1', port })).rejects.toThrow(
        new RegExp(`metrics endpoint could not listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('stops listening on close, even with a keep-alive connection open', async () => {
    const server = await serveMetrics(new Metrics().registry, { host: '127.0.0.1', port: 0 });
    const res = await fetch(server.url, { headers: { connection: 'keep-alive' } });
    await res.text();
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });
});
