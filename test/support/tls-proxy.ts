/**
 * A TLS front for the dev server (which speaks plaintext gRPC): a real TLS listener with a test CA,
 * a server certificate for localhost and, optionally, required client certificates (mTLS), that
 * forwards each connection's bytes to the dev server. Certificates come from the openssl CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';

export interface TestCertificates {
  dir: string;
  /** The CA that signed both certificates (what a client trusts: TEMPORAL_TLS_SERVER_CA_CERT_PATH). */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A client certificate the proxy accepts for mTLS (TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH). */
  clientCert: string;
  clientKey: string;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, EC P-256, valid 2 days. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'backfill-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=backfill test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n`);
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  leaf('client', 'backfill-worker', 'extendedKeyUsage=clientAuth');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

export interface TlsProxy {
  /** host:port of the TLS listener. */
  address: string;
  /** Each TLS session established (handshake passed): the client certificate's CN, or null. */
  sessions: Array<{ clientCn: string | null }>;
  /** Connections refused during the handshake (no or unknown client certificate, not TLS at all). */
  refused: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 with TLS (h2 ALPN, as gRPC needs) and pipes every session to `target`. */
export async function startTlsProxy(target: string, certs: TestCertificates, requireClientCert: boolean) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const proxy: Omit<TlsProxy, 'address' | 'close'> = { sessions: [], refused: 0 };
  const sockets = new Set<TLSSocket>();
  const server = createServer(
    {
      key: readFileSync(certs.serverKey),
      cert: readFileSync(certs.serverCert),
      ca: readFileSync(certs.ca),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      sockets.add(socket);
      const cn = socket.getPeerCertificate()?.subject?.CN;
      proxy.sessions.push({ clientCn: typeof cn === 'string' ? cn : null });
      const upstream = connect(port, host);
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
        sockets.delete(socket);
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    },
  );
  server.on('tlsClientError', () => proxy.refused++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    address: `127.0.0.1:${listening}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  }) as TlsProxy;
}
