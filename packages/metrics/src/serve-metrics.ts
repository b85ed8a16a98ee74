// Owns the HTTP endpoint that Prometheus scrapes.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { LogStreamError } from '@logstream/protocol';

/** Where {@link serveMetrics} listens by default: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** The port {@link serveMetrics} listens on by default. */
export const DEFAULT_METRICS_PORT = 9090;
/** The path {@link serveMetrics} answers on by default. */
export const DEFAULT_METRICS_PATH = '/metrics';

/** Where {@link serveMetrics} listens. */
export interface ServeMetricsOptions {
  /** Address to bind; default {@link DEFAULT_METRICS_HOST}. */
  host?: string;
  /** TCP port, 0-65535 (0 picks a free one); default {@link DEFAULT_METRICS_PORT}. */
  port?: number;
  /** Path of the metrics page, starting with `/`; default {@link DEFAULT_METRICS_PATH}. */
  path?: string;
}

/**
 * Serves `registry` at `http://host:port/path` (GET or HEAD; anything else is a 404). Port 0 picks
 * a free port: read it from `server.address()`. Close the returned server to stop.
 * @throws LogStreamError (kind `config`) for a bad port or path; (kind `io`) naming `host:port`
 * when it cannot listen there (`EADDRINUSE`, `EACCES`, an address not on this machine…)
 */
export async function serveMetrics(registry: Registry, options: ServeMetricsOptions = {}): Promise<Server> {
  const { host = DEFAULT_METRICS_HOST, port = DEFAULT_METRICS_PORT, path = DEFAULT_METRICS_PATH } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LogStreamError('config', `metrics: port: expected an integer 0-65535, got ${JSON.stringify(port)}`, { code: 'CONFIG' });
  }
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new LogStreamError('config', `metrics: path: expected a path starting with "/", got ${JSON.stringify(path)}`, { code: 'CONFIG' });
  }
  const http = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    throw new LogStreamError('io', `metrics: cannot listen on ${where}: ${(error as Error).message}`, { cause: error, code: 'IO' });
  }
  return http;
}
