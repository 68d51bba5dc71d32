// `command:remote:Command` and `command:remote:CopyToRemote` for the stand-in provider, with
// the official provider's semantics (read from its source, provider/pkg/provider/remote):
//   - connection: host, port (22), user (root), privateKey (+ privateKeyPassword), password,
//     hostKey (an authorized_keys line; when set, the server must present exactly that key,
//     otherwise any key is accepted), proxy (a bastion with the same fields: the target is
//     reached through a channel the bastion opens), dialErrorLimit (10; -1 for no limit) and
//     perDialTimeout (15 s) per attempt.
//   - Command: `environment` is sent as SSH `env` requests, which the server only honours for
//     names its sshd_config accepts (AcceptEnv). The official provider fails when one is
//     refused; ssh2 cannot ask for a reply per variable, so here a refused variable is simply
//     missing on the host (this project's commands check for their variables and say so).
//     `stdin` is fed to the command. stdout/stderr are kept with one trailing newline cut.
//   - CopyToRemote: an asset or archive goes over SFTP to `remotePath`; an AssetArchive's
//     entries (nested archives flattened) land at remotePath/<name>, parents created,
//     existing files overwritten; a directory FileArchive is copied into remotePath (into
//     remotePath/<basename> when remotePath is an existing directory). Not unpacked.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";

export interface ConnectionInputs {
    host: string;
    port?: number;
    user?: string;
    password?: string;
    privateKey?: string;
    privateKeyPassword?: string;
    hostKey?: string;
    dialErrorLimit?: number;
    perDialTimeout?: number;
    proxy?: ConnectionInputs;
}

export interface RemoteRunResult {
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    combined: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function endpoint(c: ConnectionInputs): string {
    return `${c.user ?? "root"}@${c.host}:${c.port ?? 22}`;
}

/** The config ssh2 needs for one hop; `sock` is the channel through a bastion, if any. */
function connectConfig(c: ConnectionInputs, sock?: Duplex): ConnectConfig {
    const config: ConnectConfig = {
        host: c.host,
        port: c.port ?? 22,
        username: c.user ?? "root",
        readyTimeout: (c.perDialTimeout ?? 15) * 1000 || 2 ** 31 - 1,
        // A peer that vanishes mid-command (link down) is noticed within ~20 s, not a TCP timeout.
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
    };
    if (sock) config.sock = sock;
    if (c.privateKey) {
        config.privateKey = c.privateKey;
        if (c.privateKeyPassword) config.passphrase = c.privateKeyPassword;
    }
    if (c.password) {
        config.password = c.password;
        config.tryKeyboard = true;
    }
    if (c.hostKey) {
        const [type, blob] = c.hostKey.trim().split(/\s+/);
        if (!type || !blob) throw new Error(`hostKey for ${endpoint(c)} is not an authorized_keys line ("<type> <base64> [comment]")`);
        const expected = Buffer.from(blob, "base64");
        config.algorithms = { serverHostKey: [type as never] };
        config.hostVerifier = (key: Buffer) => key.equals(expected);
    }
    return config;
}

function dialOnce(config: ConnectConfig): Promise<Client> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        client.once("ready", () => resolve(client));
        client.once("error", (err: Error & { level?: string }) => {
            client.end();
            reject(err);
        });
        client.connect(config);
    });
}

/** Dials with the official retry rule: up to dialErrorLimit attempts, backing off between them. */
async function dialWithRetry<T>(what: string, limit: number, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
        try {
            return await attempt();
        } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            // A refused host key or authentication is not a network blip: retrying cannot help.
            const permanent = /host key|hostVerifier|Host denied|verification failed|authentication methods failed|All configured authentication/i.test(message);
            if (permanent || (limit !== -1 && tries >= limit)) {
                throw new Error(`${what}: after ${tries} failed attempt(s): ${explain(message)}`);
            }
            await sleep(Math.min(250 * 2 ** (tries - 1), 5000));
        }
    }
}

function explain(message: string): string {
    if (/hostVerifier|host key|Host denied|verification failed/i.test(message)) return `${message}: the server's host key does not match the pinned hostKey (if the host was reinstalled, pin its new key; otherwise someone may be intercepting the connection)`;
    if (/authentication methods failed/i.test(message)) return `${message}: the server refused the login (check the user and that the key's public half is in its authorized_keys)`;
    return message;
}

/** Connects as the official provider does: directly, or through `proxy` as a jump host. */
export async function dial(c: ConnectionInputs): Promise<{ client: Client; close: () => void }> {
    const limit = c.dialErrorLimit ?? 10;
    if (!c.proxy) {
        const client = await dialWithRetry(`ssh ${endpoint(c)}`, limit, () => dialOnce(connectConfig(c)));
        return { client, close: () => client.end() };
    }
    const proxy = c.proxy;
    const bastion = await dialWithRetry(`ssh proxy ${endpoint(proxy)}`, proxy.dialErrorLimit ?? 10, () => dialOnce(connectConfig(proxy)));
    try {
        const client = await dialWithRetry(`ssh ${endpoint(c)} through ${endpoint(proxy)}`, limit, async () => {
            const channel = await new Promise<Duplex>((resolve, reject) =>
                bastion.forwardOut("127.0.0.1", 0, c.host, c.port ?? 22, (err, stream) => (err ? reject(err) : resolve(stream))),
            );
            return dialOnce(connectConfig(c, channel));
        });
        return {
            client,
            close: () => {
                client.end();
                bastion.end();
            },
        };
    } catch (err) {
        bastion.end();
        throw err;
    }
}

/** Runs `command` in one session; `onLine` gets every output line as it arrives. */
export async function runRemote(
    c: ConnectionInputs,
    command: string,
    env: Record<string, string>,
    stdin: string | undefined,
    onLine: (line: string, stream: "stdout" | "stderr") => void,
): Promise<RemoteRunResult> {
    const { client, close } = await dial(c);
    try {
        return await new Promise<RemoteRunResult>((resolve, reject) => {
            client.exec(command, { env }, (err, channel) => {
                if (err) return reject(new Error(`ssh ${endpoint(c)}: could not start the command: ${err.message}`));
                const out: Buffer[] = [];
                const errOut: Buffer[] = [];
                const combined: Buffer[] = [];
                const splitter = (chunks: Buffer[], stream: "stdout" | "stderr") => {
                    let partial = "";
                    return (chunk: Buffer) => {
                        chunks.push(chunk);
                        combined.push(chunk);
                        const lines = (partial + chunk.toString("utf8")).split("\n");
                        partial = lines.pop() ?? "";
                        for (const line of lines) onLine(line, stream);
                    };
                };
                channel.on("data", splitter(out, "stdout"));
                channel.stderr.on("data", splitter(errOut, "stderr"));
                let code: number | null = null;
                let signal: string | null = null;
                channel.on("exit", (exitCode: number | null, exitSignal?: string) => {
                    code = exitCode;
                    signal = exitSignal ?? null;
                });
                channel.on("close", () =>
                    resolve({
                        code,
                        signal,
                        stdout: Buffer.concat(out).toString("utf8"),
                        stderr: Buffer.concat(errOut).toString("utf8"),
                        combined: Buffer.concat(combined).toString("utf8"),
                    }),
                );
                channel.end(stdin ?? "");
            });
        });
    } finally {
        close();
    }
}

function sftpOf(client: Client): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

function remoteStat(sftp: SFTPWrapper, p: string): Promise<"dir" | "file" | undefined> {
    return new Promise((resolve, reject) =>
        sftp.stat(p, (err, stats) => {
            if (err) return (err as { code?: number }).code === 2 ? resolve(undefined) : reject(err);
            resolve(stats.isDirectory() ? "dir" : "file");
        }),
    );
}

async function mkdirAll(sftp: SFTPWrapper, dir: string): Promise<void> {
    if (dir === "/" || dir === "." || (await remoteStat(sftp, dir)) === "dir") return;
    await mkdirAll(sftp, path.posix.dirname(dir));
    await new Promise<void>((resolve, reject) => sftp.mkdir(dir, (err) => (err && (err as { code?: number }).code !== 4 ? reject(err) : resolve())));
}

function putFile(sftp: SFTPWrapper, local: string, remote: string): Promise<void> {
    return new Promise((resolve, reject) =>
        sftp.fastPut(local, remote, (err) => (err ? reject(new Error(`copying ${local} to ${remote}: ${err.message}`)) : resolve())),
    );
}

function putText(sftp: SFTPWrapper, text: string, remote: string): Promise<void> {
    return new Promise((resolve, reject) =>
        sftp.writeFile(remote, text, (err) => (err ? reject(new Error(`writing ${remote}: ${err.message}`)) : resolve())),
    );
}

/** Every file under a local directory, relative, in a stable order. */
function walk(dir: string, relative = ""): string[] {
    return fs
        .readdirSync(path.join(dir, relative), { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((entry) => {
            const child = path.posix.join(relative, entry.name);
            if (entry.isDirectory()) return walk(dir, child);
            return entry.isFile() ? [child] : [];
        });
}

/** The sentinel key and values with which the engine marks assets and archives. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

/** An asset or archive as the engine sends it: a marked object with path, text, uri or assets. */
export interface WireSource {
    [SIG_KEY]: string;
    path?: string;
    text?: string;
    uri?: string;
    assets?: Record<string, WireSource>;
    hash?: string;
}

type Entry = { name: string; file?: string; text?: string };

/** The (local file or text, remote relative name) pairs a source expands to. */
function entriesOf(source: WireSource, prefix: string): Entry[] {
    const kind = source[SIG_KEY];
    if (source.uri !== undefined) throw new Error(`remote ${kind === ASSET_SIG ? "assets" : "archives"} (${source.uri}) are not supported by the stand-in provider`);
    if (kind === ASSET_SIG) return source.path !== undefined ? [{ name: prefix, file: source.path }] : [{ name: prefix, text: source.text ?? "" }];
    if (kind !== ARCHIVE_SIG) throw new Error("source must be an asset or an archive");
    if (source.assets) {
        return Object.keys(source.assets)
            .sort()
            .flatMap((name) => entriesOf(source.assets![name], path.posix.join(prefix, name)));
    }
    const dir = source.path ?? "";
    if (!fs.statSync(dir).isDirectory()) return [{ name: path.posix.join(prefix, path.basename(dir)), file: dir }];
    return walk(dir).map((rel) => ({ name: path.posix.join(prefix, rel), file: path.join(dir, rel) }));
}

/** Copies `source` to `remotePath` over SFTP with the official provider's placement rules. */
export async function copyToRemote(c: ConnectionInputs, source: WireSource, remotePath: string, onLine: (line: string) => void): Promise<void> {
    const { client, close } = await dial(c);
    try {
        const sftp = await sftpOf(client);
        const existing = await remoteStat(sftp, remotePath);
        let entries: Entry[];
        let base = remotePath;
        const isArchive = source[SIG_KEY] === ARCHIVE_SIG;
        if (isArchive && source.assets) {
            if (existing === "file") throw new Error(`remote path ${remotePath} exists but is not a directory; cannot copy asset archive contents`);
            entries = entriesOf(source, "");
        } else if (isArchive && source.path !== undefined && fs.statSync(source.path).isDirectory()) {
            if (existing === "file") throw new Error(`remote path ${remotePath} is a file; cannot copy a directory onto it`);
            if (existing === "dir") base = path.posix.join(remotePath, path.basename(source.path));
            entries = entriesOf(source, "");
        } else {
            const [single] = entriesOf(source, "");
            entries = [{ ...single, name: existing === "dir" && single.file ? path.basename(single.file) : "" }];
        }
        const started = Date.now();
        for (const entry of entries) {
            const target = entry.name ? path.posix.join(base, entry.name) : base;
            await mkdirAll(sftp, path.posix.dirname(target));
            if (entry.file !== undefined) await putFile(sftp, entry.file, target);
            else await putText(sftp, entry.text ?? "", target);
        }
        onLine(`copied ${entries.length} file(s) to ${c.host}:${base} in ${Date.now() - started} ms`);
        sftp.end();
    } finally {
        close();
    }
}
