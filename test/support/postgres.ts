// A throwaway PostgreSQL server for a test: a fresh cluster in a temp dir, listening on
// 127.0.0.1 only (and a unix socket in the temp dir), with one role and one database for
// Pulumi's postgres:// backend. PostgreSQL refuses to run as root, so as root the server runs as
// the distribution's `postgres` user (setpriv: the child's pid is the server's, stopped by it).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { ephemeralPort } from "../../scripts/lib/localStack";

export interface Postgres {
    /** `postgres://<role>:<password>@127.0.0.1:<port>/<database>?sslmode=disable` */
    readonly url: string;
    readonly port: number;
    readonly database: string;
    readonly role: string;
    /** The server's pid (the postmaster). */
    readonly pid: number;
    /** Runs SQL in the database as the superuser, over the unix socket: psql's unaligned rows. */
    query(sql: string): string;
    /** Fast shutdown (SIGINT) by pid, SIGKILL if it has not exited within 10 s; removes the temp dir. */
    stop(): Promise<void>;
}

const INSTALL_HINT = "install it: apt-get install postgresql (scripts/test-packages.sh does so as root, as CI runs it)";

/** The newest /usr/lib/postgresql/<major>/bin holding initdb, postgres and psql. */
export function postgresBinDir(root = "/usr/lib/postgresql"): string {
    const majors = fs.existsSync(root)
        ? fs
              .readdirSync(root)
              .filter((v) => /^\d+$/.test(v))
              .filter((v) => ["initdb", "postgres", "psql"].every((b) => fs.existsSync(path.join(root, v, "bin", b))))
              .sort((a, b) => Number(b) - Number(a))
        : [];
    if (majors.length === 0) throw new Error(`PostgreSQL is not installed (no ${root}/*/bin/initdb): ${INSTALL_HINT}`);
    return path.join(root, majors[0], "bin");
}

function accepts(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

/** Starts a server; `after` should call stop(). Fails, naming the package, when PostgreSQL is missing. */
export async function startPostgres(): Promise<Postgres> {
    const bin = postgresBinDir();
    const asRoot = process.getuid?.() === 0;
    // As root: every server process runs as `postgres`, owning the temp dir (initdb wants its data
    // dir's owner to run it). Otherwise as this user.
    let owner: { uid: number; gid: number } | undefined;
    if (asRoot) {
        try {
            owner = {
                uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
                gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
            };
        } catch {
            throw new Error(
                `running as root, PostgreSQL must run as the user postgres, which does not exist: ${INSTALL_HINT}`,
            );
        }
    }
    const runAs = (exe: string, args: string[]): [string, string[]] =>
        asRoot
            ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", path.join(bin, exe), ...args]]
            : [path.join(bin, exe), args];

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-pg-"));
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);
    const dataDir = path.join(dir, "data");
    const socketDir = path.join(dir, "socket");
    const logFile = path.join(dir, "server.log");
    const cleanUp = () => fs.rmSync(dir, { recursive: true, force: true });
    try {
        fs.mkdirSync(socketDir, { mode: 0o700 });
        if (owner) fs.chownSync(socketDir, owner.uid, owner.gid);
        // Trust only over the socket, in a 0700 dir (the superuser's way in, for the set-up);
        // over TCP a password, as a real server asks.
        const [initdb, initArgs] = runAs("initdb", [
            "-D",
            dataDir,
            "-U",
            "postgres",
            "--no-locale",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]);
        const init = spawnSync(initdb, initArgs, { cwd: dir, encoding: "utf8" });
        if (init.status !== 0) throw new Error(`initdb failed (status ${init.status}): ${init.stdout}${init.stderr}`);
    } catch (err) {
        cleanUp();
        throw err;
    }

    let server: ChildProcess | undefined;
    let port = 0;
    // The port may be taken between ephemeralPort() and the server's bind: a few tries.
    for (let attempt = 1; attempt <= 3 && !server; attempt++) {
        port = await ephemeralPort();
        const log = fs.openSync(logFile, "a");
        const [exe, args] = runAs("postgres", [
            "-D",
            dataDir,
            "-p",
            String(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            `unix_socket_directories=${socketDir}`,
        ]);
        const child = spawn(exe, args, { cwd: dir, stdio: ["ignore", log, log] });
        fs.closeSync(log);
        let exited = false;
        child.once("exit", () => (exited = true));
        const deadline = Date.now() + 30_000;
        while (!exited && Date.now() < deadline && !(await accepts(port))) await new Promise((r) => setTimeout(r, 50));
        if (!exited && (await accepts(port))) {
            server = child;
        } else if (!exited) {
            child.kill("SIGKILL");
            cleanUp();
            throw new Error(`PostgreSQL did not listen on 127.0.0.1:${port} within 30 s: ${readLog(logFile)}`);
        }
    }
    if (!server?.pid) {
        const log = readLog(logFile);
        cleanUp();
        throw new Error(`PostgreSQL did not start (3 ports tried): ${log}`);
    }
    const pid = server.pid;
    const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));

    const query = (sql: string, db = "postgres"): string => {
        const run = spawnSync(
            path.join(bin, "psql"),
            ["-qAt", "-h", socketDir, "-p", String(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1"],
            { input: sql, encoding: "utf8", env: { ...process.env, PSQLRC: "/dev/null" } },
        );
        if (run.status !== 0) throw new Error(`psql failed (status ${run.status}): ${run.stderr}`);
        return run.stdout;
    };
    const stop = async () => {
        try {
            process.kill(pid, "SIGINT"); // fast shutdown: open sessions are ended, nothing waits on them
        } catch {
            /* already gone */
        }
        const timedOut = await Promise.race([
            exited.then(() => false),
            new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref()),
        ]);
        if (timedOut) {
            server.kill("SIGKILL");
            await exited;
        }
        cleanUp();
    };

    const role = "bluegreen";
    const database = "pulumi_state";
    const password = randomBytes(12).toString("hex");
    try {
        query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}';\n` + `CREATE DATABASE ${database} OWNER ${role};\n`);
    } catch (err) {
        await stop();
        throw err;
    }
    return {
        url: `postgres://${role}:${password}@127.0.0.1:${port}/${database}?sslmode=disable`,
        port,
        database,
        role,
        pid,
        query: (sql) => query(sql, database),
        stop,
    };
}

function readLog(file: string): string {
    try {
        return fs.readFileSync(file, "utf8").trim().split("\n").slice(-10).join("\n");
    } catch {
        return "(no server log)";
    }
}
