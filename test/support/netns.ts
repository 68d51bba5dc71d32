// A lab of test hosts for the ssh target: one network namespace per machine (nginx, blue-1,
// blue-2, green-1, green-2, ...), each with its own address on a private bridge, its own sshd
// (host key and client key generated for the run, AcceptEnv BLUEGREEN_*) and its own private
// copy of the deploy directory (a bind mount inside the namespace's mount namespace), so the
// machines share nothing but the binaries. Traffic goes from the root namespace to the nginx
// namespace over the bridge, never beyond this machine.
// Every process is stopped by pid (pid files, then `ip netns pids`), and teardown also runs
// for a lab an earlier, killed run left behind.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

const LAB_ROOT = "/tmp/bluegreen-netns";
/** `sh -c` text: the host's own directory mounted over remoteDir ($1 over $2), then the rest run. */
const MOUNTED = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';

export interface LabHost {
    readonly name: string;
    readonly namespace: string;
    readonly address: string;
    /** The host's public key line, for pinning (hostKey). */
    readonly hostKey: string;
    /** What this host sees at the lab's remoteDir. */
    readonly root: string;
}

export interface Lab {
    readonly id: string;
    readonly dir: string;
    readonly hosts: Readonly<Record<string, LabHost>>;
    readonly bridgeAddress: string;
    /** The client key every sshd accepts (OpenSSH format). */
    readonly privateKey: string;
    /** The deploy directory, the same path on every host, private to each. */
    readonly remoteDir: string;
    /** Runs a command inside a host's namespace (no mount namespace: for network checks). */
    exec(host: string, argv: string[]): string;
    /** Runs a command as the host's sshd would: in its namespace, its own directory at remoteDir. */
    execMounted(host: string, argv: string[]): string;
    /** Takes `host` off the network as a pulled cable would: its link goes down (its default route goes too). */
    cutLink(host: string): void;
    /**
     * Plugs `host` back in (link and default route) and resolves once its sshd answers from here
     * again. Right after the link comes up, an address resolution started while it was down can
     * still fail and take a new connection with it (EHOSTUNREACH): callers wait for this first.
     */
    reconnect(host: string): Promise<void>;
    teardown(): void;
}

/** Why the lab cannot be built here, or undefined when it can. */
export function labUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "network namespaces and sshd need root (CI runs as root)";
    for (const tool of ["/usr/sbin/sshd", "/usr/bin/ssh-keygen"]) {
        if (!fs.existsSync(tool)) return `${tool} is missing (apt-get install openssh-server)`;
    }
    try {
        execFileSync("ip", ["-V"], { stdio: "ignore" });
    } catch {
        return "the ip command is missing (apt-get install iproute2)";
    }
    return undefined;
}

/**
 * Skips the calling suite (`this` of its before hook) where the lab cannot be built, saying why;
 * with BLUEGREEN_REQUIRE_NETNS set (CI) it fails instead: there it must never skip.
 */
export function labOrSkip(context: Mocha.Context, suite: string): void {
    const unavailable = labUnavailable();
    if (!unavailable) return;
    if (process.env.BLUEGREEN_REQUIRE_NETNS)
        throw new Error(`the ${suite} suite must run here (BLUEGREEN_REQUIRE_NETNS is set) but cannot: ${unavailable}`);
    console.log(`      skipped: ${unavailable}`);
    context.skip();
}

function run(cmd: string, args: string[], opts: { input?: string; ignoreFailure?: boolean } = {}): string {
    try {
        return execFileSync(cmd, args, { input: opts.input, stdio: ["pipe", "pipe", "pipe"], encoding: "utf8" });
    } catch (err) {
        if (opts.ignoreFailure) return "";
        const e = err as { stderr?: string; message: string };
        throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`);
    }
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

interface LabRecord {
    owner: number;
    bridge: string;
    namespaces: string[];
}

/** Stops everything of the lab recorded in `dir` by pid, deletes its namespaces and bridge. */
function destroyLab(dir: string): void {
    let record: LabRecord;
    try {
        record = JSON.parse(fs.readFileSync(path.join(dir, "lab.json"), "utf8")) as LabRecord;
    } catch {
        fs.rmSync(dir, { recursive: true, force: true });
        return;
    }
    const pids = new Set<number>();
    const walk = (d: string) => {
        for (const entry of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
            const p = path.join(d, entry.name);
            if (entry.isDirectory() && !entry.isSymbolicLink()) walk(p);
            else if (entry.name.endsWith(".pid")) pids.add(Number(fs.readFileSync(p, "utf8").trim()));
        }
    };
    walk(dir);
    // Whatever still runs inside a lab namespace was started there by this lab.
    for (const ns of record.namespaces) {
        for (const line of run("ip", ["netns", "pids", ns], { ignoreFailure: true }).split("\n")) {
            if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
        }
    }
    for (const pid of pids) {
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* gone */
            }
        }
    }
    for (const ns of record.namespaces) run("ip", ["netns", "del", ns], { ignoreFailure: true });
    run("ip", ["link", "del", record.bridge], { ignoreFailure: true });
    fs.rmSync(dir, { recursive: true, force: true });
}

/** Tears down labs whose test run died without doing it. */
function destroyAbandonedLabs(): void {
    if (!fs.existsSync(LAB_ROOT)) return;
    for (const id of fs.readdirSync(LAB_ROOT)) {
        const dir = path.join(LAB_ROOT, id);
        try {
            const record = JSON.parse(fs.readFileSync(path.join(dir, "lab.json"), "utf8")) as LabRecord;
            if (alive(record.owner)) continue;
        } catch {
            /* no record: half-built, remove */
        }
        destroyLab(dir);
    }
}

/** Resolves when `address:22` answers with an SSH banner. */
async function waitForSsh(address: string, sshdPid: number, logFile: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const banner = await new Promise<string>((resolve) => {
            const socket = net.connect({ host: address, port: 22, timeout: 1000 });
            socket.once("data", (d: Buffer) => {
                socket.destroy();
                resolve(d.toString("utf8"));
            });
            socket.once("error", () => resolve(""));
            socket.once("timeout", () => {
                socket.destroy();
                resolve("");
            });
        });
        if (banner.startsWith("SSH-")) return;
        if (!alive(sshdPid)) throw new Error(`sshd for ${address} exited: ${fs.readFileSync(logFile, "utf8")}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sshd on ${address}:22 did not answer within ${timeoutMs} ms: ${fs.readFileSync(logFile, "utf8")}`);
}

/** Builds the lab: `names` in order get .10, .11, ... on a fresh 10.213.N.0/24. */
export async function createLab(names: readonly string[]): Promise<Lab> {
    destroyAbandonedLabs();
    const id = randomBytes(2).toString("hex");
    const dir = path.join(LAB_ROOT, id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(LAB_ROOT, 0o755);
    const bridge = `bgt${id}`;
    const namespaces = names.map((name) => `bgt${id}-${name}`);
    const record: LabRecord = { owner: process.pid, bridge, namespaces };
    fs.writeFileSync(path.join(dir, "lab.json"), JSON.stringify(record));
    const subnet = `10.213.${parseInt(id, 16) % 250}`;
    const bridgeAddress = `${subnet}.1`;
    const remoteDir = path.join(dir, "remote");
    fs.mkdirSync(remoteDir, { mode: 0o755 });
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const hosts: Record<string, LabHost> = {};
    const sshds = new Map<string, { pid: number; logFile: string }>();
    const lab: Lab = {
        id,
        dir,
        hosts,
        bridgeAddress,
        privateKey: "",
        remoteDir,
        exec: (host, argv) => run("ip", ["netns", "exec", hosts[host].namespace, ...argv]),
        execMounted: (host, argv) =>
            run("ip", [
                "netns",
                "exec",
                hosts[host].namespace,
                "sh",
                "-c",
                MOUNTED,
                "sh",
                hosts[host].root,
                remoteDir,
                ...argv,
            ]),
        cutLink: (host) => {
            run("ip", ["-n", hosts[host].namespace, "link", "set", "eth0", "down"]);
        },
        reconnect: async (host) => {
            const ns = hosts[host].namespace;
            run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
            run("ip", ["-n", ns, "route", "replace", "default", "via", bridgeAddress]);
            const sshd = sshds.get(host)!;
            await waitForSsh(hosts[host].address, sshd.pid, sshd.logFile);
        },
        teardown: () => destroyLab(dir),
    };
    try {
        run("ssh-keygen", [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            `bluegreen-lab-${id}`,
            "-f",
            path.join(dir, "client_key"),
        ]);
        const privateKey = fs.readFileSync(path.join(dir, "client_key"), "utf8");
        const clientPublic = fs.readFileSync(path.join(dir, "client_key.pub"), "utf8");
        run("ip", ["link", "add", bridge, "type", "bridge"]);
        run("ip", ["addr", "add", `${bridgeAddress}/24`, "dev", bridge]);
        run("ip", ["link", "set", bridge, "up"]);
        const started: Promise<void>[] = [];
        names.forEach((name, i) => {
            const ns = namespaces[i];
            const address = `${subnet}.${10 + i}`;
            const hostDir = path.join(dir, "hosts", name);
            const root = path.join(hostDir, "root");
            fs.mkdirSync(root, { recursive: true, mode: 0o755 });
            fs.chmodSync(path.join(dir, "hosts"), 0o755);
            fs.chmodSync(hostDir, 0o755);
            // Network: a veth pair, one end on the bridge, the other in the namespace.
            const outside = `bgt${id}v${i}`;
            const inside = `bgt${id}p${i}`;
            run("ip", ["netns", "add", ns]);
            run("ip", ["link", "add", outside, "type", "veth", "peer", "name", inside]);
            run("ip", ["link", "set", outside, "master", bridge, "up"]);
            run("ip", ["link", "set", inside, "netns", ns]);
            run("ip", ["-n", ns, "link", "set", inside, "name", "eth0"]);
            run("ip", ["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
            run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
            run("ip", ["-n", ns, "link", "set", "lo", "up"]);
            run("ip", ["-n", ns, "route", "add", "default", "via", bridgeAddress]);
            // sshd: its own host key, the run's client key, and the variables the program sends.
            const hostKeyFile = path.join(hostDir, "ssh_host_ed25519_key");
            run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", hostKeyFile]);
            fs.writeFileSync(path.join(hostDir, "authorized_keys"), clientPublic, { mode: 0o600 });
            const sshdConfig = [
                `ListenAddress ${address}`,
                "Port 22",
                `HostKey ${hostKeyFile}`,
                `PidFile ${path.join(hostDir, "sshd.pid")}`,
                `AuthorizedKeysFile ${path.join(hostDir, "authorized_keys")}`,
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "AcceptEnv BLUEGREEN_*",
                "MaxStartups 100:30:200",
                "MaxSessions 100",
                "Subsystem sftp internal-sftp",
            ].join("\n");
            const configFile = path.join(hostDir, "sshd_config");
            fs.writeFileSync(configFile, `${sshdConfig}\n`);
            const logFile = path.join(hostDir, "sshd.log");
            const logFd = fs.openSync(logFile, "a");
            // Inside the namespace's own mount namespace (ip netns exec makes one), the host's
            // private directory is mounted over remoteDir; sshd and everything it starts see it.
            const sshd = spawn(
                "ip",
                [
                    "netns",
                    "exec",
                    ns,
                    "sh",
                    "-c",
                    'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -e -f "$3"',
                    "sh",
                    root,
                    remoteDir,
                    configFile,
                ],
                { detached: true, stdio: ["ignore", logFd, logFd] },
            );
            fs.closeSync(logFd);
            sshd.unref();
            fs.writeFileSync(path.join(hostDir, "sshd-main.pid"), String(sshd.pid));
            hosts[name] = {
                name,
                namespace: ns,
                address,
                hostKey: fs.readFileSync(`${hostKeyFile}.pub`, "utf8").trim(),
                root,
            };
            sshds.set(name, { pid: sshd.pid!, logFile });
            started.push(waitForSsh(address, sshd.pid!, logFile));
        });
        await Promise.all(started);
        return { ...lab, privateKey };
    } catch (err) {
        destroyLab(dir);
        throw err;
    }
}
