// The root helper (templates/root/bluegreen-root.sh) for real, installed as the aws user-data
// installs it (its write_files, read with cloud-init's own YAML library, PyYAML) and run as
// root through sudo by the app user. Each run is a private mount namespace: /etc is an overlay
// (the app user, the sudoers file and the helper's settings exist only there), and
// /etc/systemd/system and /usr/local/sbin are the test's directories. No systemd runs as init
// on these machines, and the helper takes its PATH from nobody, so a stand-in that logs its
// arguments is mounted where systemctl is. nginx is the real one. Needs root (unshare, mount,
// sudo): skips otherwise, except where BLUEGREEN_REQUIRE_NETNS is set (CI), where it fails.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { appUnitText } from "../../components/appUnit";
import { renderNginxConfig } from "../../components/nginxConfig";
import { SCRIPTS } from "../../components/scripts";
import { AWS_APP_USER } from "../../components/targets/aws/hosts";
import { ROOT_HELPER_PATH, userData } from "../../components/targets/aws/userData";
import { readTemplate, render } from "../../components/templates";
import { recordOutcome } from "../../scripts/lib/reliability";

const USER = AWS_APP_USER;
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F deploy@example";
/** What systemd's User=, AmbientCapabilities= and NoNewPrivileges= make of a command (no systemd here). */
const AS_UNIT = `setpriv --reuid=${USER} --regid=${USER} --init-groups --inh-caps=+net_bind_service \
--ambient-caps=+net_bind_service --no-new-privs`;
const AS_LOGIN = `setpriv --reuid=${USER} --regid=${USER} --init-groups`;

interface Run {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

interface RunOptions {
    readonly input?: string | Buffer;
    readonly net?: boolean;
    readonly systemd?: boolean;
}

interface WrittenFile {
    readonly path: string;
    readonly content: string;
    readonly permissions?: string;
    readonly owner?: string;
    readonly encoding?: string;
}

/** `'text'` for bash. */
function quoted(text: string): string {
    return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The user-data's write_files, read as cloud-init reads it (PyYAML's safe_load). */
function writeFilesOf(data: string): WrittenFile[] {
    const read = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)['write_files']))";
    const result = spawnSync("python3", ["-c", read], { input: data, encoding: "utf8" });
    assert.equal(result.status, 0, `reading the user-data with PyYAML (python3-yaml) failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as WrittenFile[];
}

/** Why this machine cannot run these tests, or undefined. */
function missing(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root (mount namespaces, sudo)";
    for (const tool of ["unshare", "setpriv", "sudo", "visudo", "systemctl", "nginx", "curl", "python3", "ip"]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
    }
    if (spawnSync("python3", ["-c", "import yaml"]).status !== 0)
        return "needs python3-yaml (cloud-init's YAML library)";
    return undefined;
}

/** One host as cloud-init leaves it: its write_files, the app user and remoteDir, in a namespace. */
class Lab {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-root-"));
    readonly remoteDir = path.join(this.dir, "srv");
    readonly units = path.join(this.dir, "units");
    readonly log = path.join(this.dir, "systemctl.log");
    private readonly mounts: string;

    constructor(readonly role: "pool" | "nginx") {
        fs.chmodSync(this.dir, 0o755);
        for (const d of ["etc-upper", "etc-work", "units", "sbin", "files"]) fs.mkdirSync(path.join(this.dir, d));
        fs.chmodSync(path.join(this.dir, "sbin"), 0o755);
        fs.writeFileSync(this.log, "");
        const fake = path.join(this.dir, "systemctl");
        fs.writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$*" >>${quoted(this.log)}\n`, { mode: 0o755 });
        const d = quoted(this.dir);
        this.mounts = [
            `mount -t overlay overlay -o lowerdir=/etc,upperdir=${d}/etc-upper,workdir=${d}/etc-work /etc`,
            `mount --bind ${d}/units /etc/systemd/system`,
            `mount --bind ${d}/sbin /usr/local/sbin`,
            // Every systemctl the helper's PATH (/usr/sbin:/usr/bin:/sbin:/bin) could find.
            "for p in /usr/sbin/systemctl /usr/bin/systemctl /sbin/systemctl /bin/systemctl; do",
            '    [ -e "$p" ] && readlink -f "$p"',
            `done | sort -u | while read -r real; do mount --bind ${d}/systemctl "$real"; done`,
            "",
        ].join("\n");

        const data =
            role === "nginx"
                ? userData("nginx", { user: USER, publicKey: PUBLIC_KEY, remoteDir: this.remoteDir }, true)
                : userData(
                      "blue-1",
                      { user: USER, publicKey: PUBLIC_KEY, remoteDir: this.remoteDir },
                      false,
                      this.appUnit(),
                  );
        // What cloud-init does with this user-data that the helper depends on: write_files (root's
        // unless told), the users module, and runcmd's remoteDir.
        const install = writeFilesOf(data).map((file, i) => {
            const source = path.join(this.dir, "files", String(i));
            // cloud-init's decoding: text, or gz+b64 (the helper).
            assert.ok([undefined, "gz+b64"].includes(file.encoding), `${file.path}: encoding ${file.encoding}`);
            const content = file.encoding ? gunzipSync(Buffer.from(file.content, "base64")) : file.content;
            fs.writeFileSync(source, content);
            const owner = (file.owner ?? "root:root").split(":");
            return (
                `install -D -m ${file.permissions ?? "0644"} -o ${owner[0]} -g ${owner[1]} ` +
                `${quoted(source)} ${quoted(file.path)}`
            );
        });
        const setup = this.asRoot(
            [
                ...install,
                `id -u ${USER} >/dev/null 2>&1 || useradd --system --user-group --shell /bin/bash ${USER}`,
                `install -d -o ${USER} -g ${USER} -m 0755 ${quoted(this.remoteDir)}`,
            ].join("\n"),
        );
        assert.equal(setup.code, 0, `setting up the ${role} host failed: ${setup.stderr}`);
        assert.equal(
            fs.readFileSync(path.join(this.dir, "sbin", "bluegreen-root"), "utf8"),
            readTemplate("root/bluegreen-root.sh"),
            "the user-data installed the helper where sudoers names it",
        );
    }

    get prefix(): string {
        return `${this.remoteDir}/nginx`;
    }

    /** The app unit the program renders for blue-1 here. */
    appUnit(drainTimeoutSeconds = 30): string {
        const host = { name: "blue-1", color: "blue" as const, workDir: `${this.remoteDir}/app`, user: USER };
        return appUnitText(host, "node server.js", drainTimeoutSeconds);
    }

    /** The certificate renewal's unit the router renders for this prefix. */
    renewalUnit(): string {
        return render("systemd/bluegreen-acme-renew.service.hbs", { prefix: this.prefix, user: USER });
    }

    /** The nginx unit the router renders for this prefix. */
    nginxUnit(): string {
        return render("systemd/bluegreen-nginx.service.hbs", {
            prefix: this.prefix,
            user: USER,
            stopTimeoutSeconds: 40,
        });
    }

    /**
     * Runs bash SCRIPT as root in the host's namespace (ARGS as $1...); with `systemd`, the
     * scripts' test for systemd as init (/run/systemd/system) passes there.
     */
    asRoot(script: string, args: string[] = [], options: RunOptions = {}): Run {
        const systemd = options.systemd ? "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system\n" : "";
        const result = spawnSync(
            "unshare",
            ["--mount", "--propagation", "private", ...(options.net ? ["--net"] : []), "bash", "-euc"].concat(
                this.mounts + systemd + script,
                "lab",
                ...args,
            ),
            { input: options.input ?? "", encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
        );
        return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** Runs ARGV as the app user in the host's namespace, with ENV and nothing else of ours. */
    asUser(argv: string[], input?: string | Buffer, env: Record<string, string> = {}, options: RunOptions = {}): Run {
        const vars = Object.entries(env).map(([k, v]) => `${k}=${quoted(v)}`);
        return this.asRoot(`exec ${AS_LOGIN} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${vars.join(" ")} "$@"`, argv, {
            ...options,
            input,
        });
    }

    /** The helper through sudo, as the scripts call it. */
    helper(args: string[], input?: string | Buffer): Run {
        return this.asUser(["sudo", "-n", ROOT_HELPER_PATH, ...args], input);
    }

    /** What systemctl was asked, one call a line. */
    systemctlCalls(): string[] {
        return fs.readFileSync(this.log, "utf8").split("\n").filter(Boolean);
    }

    clearCalls(): void {
        fs.writeFileSync(this.log, "");
    }

    /** The unit directory as root sees it: names, owners, modes, contents. */
    unitDir(): string {
        return fs
            .readdirSync(this.units)
            .sort()
            .map((name) => {
                const file = path.join(this.units, name);
                const stat = fs.lstatSync(file);
                const body = stat.isFile() ? fs.readFileSync(file, "utf8") : "";
                return `${name} ${stat.uid} ${(stat.mode & 0o7777).toString(8)}\n${body}`;
            })
            .join("\n--\n");
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Asserts the helper refused (exit 2) naming `message`, and that nothing changed. */
function assertRefused(lab: Lab, run: Run, message: RegExp): void {
    assert.equal(run.code, 2, `refused with exit 2: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /^bluegreen-root: refused: /m);
    assert.match(run.stderr, message);
}

/** `unit` with the line starting with `key=` replaced by `lines` (several, or none). */
function withLine(unit: string, key: string, ...lines: string[]): string {
    const all = unit.split("\n");
    const at = all.findIndex((line) => line.startsWith(`${key}=`));
    assert.notEqual(at, -1, `the unit has a ${key}= line`);
    all.splice(at, 1, ...lines);
    return all.join("\n");
}

describe("root helper: installed by the aws user-data, run through sudo by the app user", function () {
    let pool: Lab;
    let nginx: Lab;

    before(function () {
        const why = missing();
        if (why) {
            if (process.env.BLUEGREEN_REQUIRE_NETNS)
                throw new Error(`this suite ${why} (BLUEGREEN_REQUIRE_NETNS is set)`);
            console.log(`      skipped: ${why}`);
            this.skip();
        }
        pool = new Lab("pool");
        nginx = new Lab("nginx");
    });

    // Each test counts only the systemctl calls it caused.
    beforeEach(() => {
        pool?.clearCalls();
        nginx?.clearCalls();
    });

    after(() => {
        pool?.remove();
        nginx?.remove();
    });

    it("passes bash -n and shellcheck", function () {
        const file = path.resolve(__dirname, "../../templates/root/bluegreen-root.sh");
        assert.equal(spawnSync("bash", ["-n", file]).status, 0);
        const shellcheck = spawnSync("shellcheck", [file], { encoding: "utf8" });
        if (shellcheck.error) {
            console.log("      (shellcheck is not installed: npm run lint checks the helper with it)");
            return;
        }
        assert.equal(shellcheck.status, 0, shellcheck.stdout);
    });

    it("the sudoers file passes visudo and lets the app user run the helper, and nothing else, as root", () => {
        const check = pool.asRoot("visudo -c -f /etc/sudoers.d/50-bluegreen && visudo -c");
        assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
        const rules = pool.asUser(["sudo", "-n", "-l"]);
        assert.equal(rules.code, 0, rules.stderr);
        const commands = rules.stdout.split("\n").filter((line) => /^\s+\(/.test(line));
        assert.deepEqual(
            commands.map((line) => line.trim()),
            [`(root) NOPASSWD: ${ROOT_HELPER_PATH}`],
        );
        // What the old rules allowed, each of which gave root: refused by sudo itself now.
        for (const argv of [
            ["systemctl", "start", "bluegreen-app.service"],
            ["tee", "/etc/systemd/system/bluegreen-app.service"],
            ["rm", "-f", "/etc/systemd/system/bluegreen-app.service"],
            ["nginx", "-t"],
        ]) {
            const run = pool.asUser(["sudo", "-n", ...argv], "x");
            assert.notEqual(run.code, 0, `sudo ${argv.join(" ")} is refused`);
            assert.match(run.stderr, /sudo: (a password is required|.*not allowed)/);
        }
        assert.deepEqual(pool.systemctlCalls(), []);
        // Without sudo it is the app user's own program: it says so and does nothing.
        const direct = pool.asUser([ROOT_HELPER_PATH, "start", "bluegreen-app.service"]);
        assert.equal(direct.code, 1);
        assert.match(direct.stderr, /bluegreen-root: run it as root: sudo -n \/usr\/local\/sbin\/bluegreen-root/);
    });

    it("install-unit accepts the unit cloud-init wrote; a new one is written, systemd reloaded, unit enabled", () => {
        const atBoot = pool.unitDir();
        assert.match(atBoot, /^bluegreen-app\.service 0 644\n/, "cloud-init wrote the app unit");
        // The same text again: checked, found equal, nothing done.
        const written = fs.readFileSync(path.join(pool.units, "bluegreen-app.service"), "utf8");
        assert.equal(written, pool.appUnit(), "cloud-init wrote the unit the program renders");
        const same = pool.helper(["install-unit", "bluegreen-app.service"], written);
        assert.equal(same.code, 0, same.stderr);
        assert.equal(pool.unitDir(), atBoot);
        assert.deepEqual(pool.systemctlCalls(), []);

        const changed = pool.appUnit(45);
        const run = pool.helper(["install-unit", "bluegreen-app.service"], changed);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(pool.unitDir(), `bluegreen-app.service 0 644\n${changed}`, "written root's, mode 644, only it");
        assert.deepEqual(pool.systemctlCalls(), ["daemon-reload", "enable --quiet bluegreen-app.service"]);
        pool.clearCalls();
    });

    it("start, stop and remove-unit reach systemctl with this host's unit only", () => {
        for (const verb of ["start", "stop"]) {
            const run = pool.helper([verb, "bluegreen-app.service"]);
            assert.equal(run.code, 0, run.stderr);
        }
        assert.deepEqual(pool.systemctlCalls(), ["start bluegreen-app.service", "stop bluegreen-app.service"]);
        pool.clearCalls();
        const before = pool.unitDir();
        const removed = pool.helper(["remove-unit", "bluegreen-app.service"]);
        assert.equal(removed.code, 0, removed.stderr);
        assert.equal(pool.unitDir(), "");
        assert.deepEqual(pool.systemctlCalls(), ["disable --now --quiet bluegreen-app.service", "daemon-reload"]);
        pool.clearCalls();
        // Gone already: nothing to do.
        assert.equal(pool.helper(["remove-unit", "bluegreen-app.service"]).code, 0);
        assert.deepEqual(pool.systemctlCalls(), []);
        // Back as it was, for the next tests.
        assert.equal(pool.helper(["install-unit", "bluegreen-app.service"], before.replace(/^.*\n/, "")).code, 0);
        assert.equal(pool.unitDir(), before);
        pool.clearCalls();
    });

    describe("refuses, naming the value, and changes nothing", () => {
        const unit = () => pool.appUnit();
        const cases: [string, () => { args: string[]; input?: string | Buffer }, RegExp][] = [
            ["an unknown verb", () => ({ args: ["restart", "bluegreen-app.service"] }), /unknown verb 'restart'/],
            ["systemctl's own verbs", () => ({ args: ["daemon-reexec", "x"] }), /unknown verb 'daemon-reexec'/],
            ["a missing unit name", () => ({ args: ["start"] }), /expected VERB UNIT .*got 1 argument/],
            ["extra arguments", () => ({ args: ["start", "bluegreen-app.service", "--now"] }), /got 3 argument/],
            [
                "a unit name outside the project's",
                () => ({ args: ["start", "ssh.service"] }),
                /unit 'ssh\.service': this pool host's helper manages bluegreen-app\.service only/,
            ],
            [
                "a path in the unit name",
                () => ({ args: ["install-unit", "../../sudoers.d/bluegreen-app.service"], input: unit() }),
                /unit '\.\.\/\.\.\/sudoers\.d\/bluegreen-app\.service'/,
            ],
            [
                "the nginx unit on a pool host",
                () => ({ args: ["start", "bluegreen-nginx.service"] }),
                /unit 'bluegreen-nginx\.service': this pool host's helper manages bluegreen-app\.service only/,
            ],
            [
                "a unit that runs as root",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: withLine(unit(), "User", "User=root"),
                }),
                /line 10 'User=root': must be User=bluegreen/,
            ],
            [
                "a unit without User= (systemd would run it as root)",
                () => ({ args: ["install-unit", "bluegreen-app.service"], input: withLine(unit(), "User") }),
                /bluegreen-app\.service has no User= line/,
            ],
            [
                "User= twice (systemd keeps the last)",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: withLine(unit(), "User", "User=bluegreen", "User=bluegreen"),
                }),
                /line 11: User is set twice in \[Service\]/,
            ],
            [
                "an ExecStart outside the app's shape",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: withLine(unit(), "ExecStart", "ExecStart=/tmp/payload"),
                }),
                /'ExecStart=\/tmp\/payload': must be ExecStart=\/bin\/sh -c 'set -a && \. \S+\/app\/app\.env/,
            ],
            [
                "an ExecStart that systemd runs with full privileges (+)",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("ExecStart=/bin/sh", "ExecStart=+/bin/sh"),
                }),
                /'ExecStart=\+\/bin\/sh -c /,
            ],
            [
                "a start command that runs another command",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("exec node server.js", "exec node server.js; chmod 4755 /bin/bash"),
                }),
                /ExecStart=\/bin\/sh -c 'set -a .*: must be ExecStart=/,
            ],
            [
                "an ExecStartPre",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("[Service]\n", "[Service]\nExecStartPre=+/bin/sh -c id\n"),
                }),
                /'ExecStartPre=\+\/bin\/sh -c id': ExecStartPre is not a key bluegreen-app\.service may set/,
            ],
            [
                "a file systemd would open as root where the app user writes",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("[Service]\n", "[Service]\nStandardOutput=append:/etc/sudoers.d/x\n"),
                }),
                /StandardOutput is not a key bluegreen-app\.service may set in \[Service\]/,
            ],
            [
                "an EnvironmentFile (read as root)",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("[Service]\n", "[Service]\nEnvironmentFile=/etc/shadow\n"),
                }),
                /EnvironmentFile is not a key/,
            ],
            [
                "a WorkingDirectory elsewhere",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: withLine(unit(), "WorkingDirectory", "WorkingDirectory=/root"),
                }),
                /'WorkingDirectory=\/root': must be WorkingDirectory=\S+\/srv\/app\/current/,
            ],
            [
                "a line systemd joins to the next (it would swallow User=)",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("Type=simple\n", "Type=simple \\\n"),
                }),
                /line 9 'Type=simple \\' ends in a backslash/,
            ],
            [
                "a key systemd reads through leading space",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("NoNewPrivileges=true", " NoNewPrivileges=false"),
                }),
                /' NoNewPrivileges=false' is neither a section \(\[Unit\] \[Service\] \[Install\]\) nor Key=value/,
            ],
            [
                "a carriage return",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: unit().replace("User=bluegreen\n", "User=bluegreen\r\n"),
                }),
                /the unit text has bytes other than printable ASCII and newlines/,
            ],
            [
                "a NUL byte",
                () => ({
                    args: ["install-unit", "bluegreen-app.service"],
                    input: Buffer.concat([Buffer.from(unit()), Buffer.from([0]), Buffer.from("User=root\n")]),
                }),
                /bytes other than printable ASCII/,
            ],
            [
                "an empty text",
                () => ({ args: ["install-unit", "bluegreen-app.service"], input: "" }),
                /no unit text on standard input/,
            ],
            [
                "a text over 16 KiB",
                () => ({ args: ["install-unit", "bluegreen-app.service"], input: `${"#".repeat(16400)}\n${unit()}` }),
                /the unit text is over 16384 bytes/,
            ],
        ];
        for (const [what, call, message] of cases) {
            it(what, () => {
                const { args, input } = call();
                const before = pool.unitDir();
                const run = pool.helper(args, input);
                assertRefused(pool, run, message);
                assert.equal(pool.unitDir(), before, "the unit directory is as it was");
                assert.deepEqual(pool.systemctlCalls(), [], "systemctl was not called");
            });
        }

        it("the check can pass: the same unit, unchanged, is accepted", () => {
            assert.equal(pool.helper(["install-unit", "bluegreen-app.service"], unit()).code, 0);
            assert.match(pool.unitDir(), /^bluegreen-app\.service 0 644\n/);
            pool.clearCalls();
            recordOutcome({
                area: "security",
                target: "aws",
                fault:
                    "as the aws app user: sudo systemctl, tee, rm and nginx, then the root helper with " +
                    `${cases.length} inputs that would give root (User=root, ExecStart elsewhere, a planted log, …)`,
                expected: "sudo allows the helper only; each input refused naming it; no unit written, no systemctl",
                observed: `sudo refused all 4; the helper refused all ${cases.length}; the project's own unit accepted`,
                sent: 0,
                lost: 0,
            });
        });

        it("leaves no temporary files behind", () => {
            assert.deepEqual(
                fs.readdirSync("/tmp").filter((name) => name.startsWith("bluegreen-root.")),
                [],
            );
        });
    });

    describe("the nginx host", () => {
        it("accepts the router's nginx unit (nginx as the app user, this prefix) and refuses any other nginx", () => {
            const unit = `${nginx.nginxUnit()}\n`;
            const run = nginx.helper(["install-unit", "bluegreen-nginx.service"], unit);
            assert.equal(run.code, 0, run.stderr);
            assert.equal(nginx.unitDir(), `bluegreen-nginx.service 0 644\n${unit}`);
            assert.deepEqual(nginx.systemctlCalls(), ["daemon-reload", "enable --quiet bluegreen-nginx.service"]);
            nginx.clearCalls();
            const p = nginx.prefix;
            const refusals: [string, RegExp][] = [
                [
                    withLine(unit, "ExecStart", `ExecStart=nginx -p ${p}/ -e ${p}/logs/error.log -c /tmp/evil.conf`),
                    /-c \/tmp\/evil\.conf': must be ExecStart=nginx -p \S+\/srv\/nginx\/ -e /,
                ],
                [
                    withLine(unit, "ExecStartPre", `ExecStartPre=nginx -t -q -p ${p}/ -g 'load_module /tmp/x.so;'`),
                    /'ExecStartPre=nginx -t -q -p \S+ -g 'load_module \/tmp\/x\.so;'': must be ExecStartPre=/,
                ],
                [
                    withLine(unit, "ExecReload", "ExecReload=nginx -p /tmp/elsewhere/ -s reload"),
                    /'ExecReload=nginx -p \/tmp\/elsewhere\/ -s reload': must be ExecReload=nginx -p \S+\/srv\/nginx\//,
                ],
                [withLine(unit, "User", "User=root"), /'User=root': must be User=bluegreen/],
                [
                    withLine(unit, "AmbientCapabilities", "AmbientCapabilities=CAP_SYS_ADMIN"),
                    /'AmbientCapabilities=CAP_SYS_ADMIN': must be AmbientCapabilities=CAP_NET_BIND_SERVICE/,
                ],
                [withLine(unit, "NoNewPrivileges"), /bluegreen-nginx\.service has no NoNewPrivileges= line/],
            ];
            for (const [text, message] of refusals) {
                const before = nginx.unitDir();
                assertRefused(nginx, nginx.helper(["install-unit", "bluegreen-nginx.service"], text), message);
                assert.equal(nginx.unitDir(), before);
            }
            assertRefused(
                nginx,
                nginx.helper(["install-unit", "bluegreen-app.service"], `${nginx.appUnit()}\n`),
                /unit 'bluegreen-app\.service': this nginx host's helper manages bluegreen-nginx\.service bluegr/,
            );
            assert.deepEqual(nginx.systemctlCalls(), []);
        });

        it("accepts the certificate renewal's service and timer as rendered, nothing else in their place", () => {
            const service = `${nginx.renewalUnit()}\n`;
            const timer = `${render("systemd/bluegreen-acme-renew.timer.hbs", {})}\n`;
            for (const [unit, text] of [
                ["bluegreen-acme-renew.service", service],
                ["bluegreen-acme-renew.timer", timer],
            ]) {
                const run = nginx.helper(["install-unit", unit], text);
                assert.equal(run.code, 0, run.stderr);
            }
            assert.deepEqual(
                nginx.systemctlCalls(),
                ["daemon-reload", "daemon-reload", "enable --quiet bluegreen-acme-renew.timer"],
                "the timer is enabled; its service has nothing to enable",
            );
            nginx.clearCalls();
            const p = nginx.prefix;
            const refusals: [string, string, RegExp][] = [
                [
                    "bluegreen-acme-renew.service",
                    withLine(service, "ExecStart", "ExecStart=/bin/sh -c id"),
                    /'ExecStart=\/bin\/sh -c id': must be ExecStart=\S+\/srv\/nginx\/acme\/renew/,
                ],
                ["bluegreen-acme-renew.service", withLine(service, "User", "User=root"), /must be User=bluegreen/],
                [
                    "bluegreen-acme-renew.service",
                    service.replace("[Service]\n", "[Service]\nExecStartPre=+/bin/sh -c id\n"),
                    /ExecStartPre is not a key bluegreen-acme-renew\.service may set in \[Service\]/,
                ],
                [
                    "bluegreen-acme-renew.timer",
                    `${timer}[Service]\nExecStart=${p}/acme/renew\n`,
                    /'\[Service\]' is not a section of bluegreen-acme-renew\.timer/,
                ],
                [
                    "bluegreen-acme-renew.timer",
                    timer.replace("Persistent=true", "Unit=bluegreen-nginx.service"),
                    /Unit is not a key bluegreen-acme-renew\.timer may set in \[Timer\]/,
                ],
                [
                    "bluegreen-acme-renew.timer",
                    timer.replace("OnCalendar=*-*-* 00,12:00:00", "OnCalendar=*-*-* 00:00:00; id"),
                    /OnCalendar must match/,
                ],
            ];
            for (const [unit, text, message] of refusals) {
                const before = nginx.unitDir();
                assertRefused(nginx, nginx.helper(["install-unit", unit], text), message);
                assert.equal(nginx.unitDir(), before);
            }
            assertRefused(
                nginx,
                nginx.helper(["install-unit", "bluegreen-nginx.service bluegreen-acme-renew.timer"], timer),
                /this nginx host's helper manages/,
            );
            assert.deepEqual(nginx.systemctlCalls(), []);
            for (const unit of ["bluegreen-acme-renew.timer", "bluegreen-acme-renew.service"]) {
                assert.equal(nginx.helper(["remove-unit", unit]).code, 0);
            }
            nginx.clearCalls();
        });

        it("the unit's commands run nginx as the app user: port 80 by the capability alone, reload, quit", () => {
            const unit = fs.readFileSync(path.join(nginx.units, "bluegreen-nginx.service"), "utf8");
            const line = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)?.[1] ?? "";
            assert.equal(line("User"), USER);
            assert.equal(line("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
            const p = nginx.prefix;
            const noCapability = quoted(path.join(nginx.dir, "no-capability.txt"));
            const config = renderNginxConfig({
                prefix: p,
                switchMode: "reload",
                liveColor: "blue",
                pools: { blue: [{ address: "127.0.0.1", port: 9101 }], green: [] },
                publicAddress: "127.0.0.1",
                publicPort: 80,
                internalAddress: "127.0.0.1",
                internalPort: 8081,
                workerShutdownTimeoutSeconds: 5,
                workerProcesses: 1,
            });
            fs.writeFileSync(path.join(nginx.dir, "nginx.conf"), config.text);
            // The login writes the prefix and the config, as the switch does; then what systemd
            // would run for the unit, in a network namespace of its own (port 80 is free there).
            const run = nginx.asRoot(
                [
                    "ip link set lo up",
                    `trap 'pid=$(cat ${p}/logs/nginx.pid 2>/dev/null) && kill -QUIT "$pid" 2>/dev/null; true' EXIT`,
                    `${AS_LOGIN} mkdir -p ${p}/conf ${p}/logs ${p}/temp`,
                    `${AS_LOGIN} cp ${quoted(path.join(nginx.dir, "nginx.conf"))} ${p}/conf/nginx.conf`,
                    `if ${AS_LOGIN} ${line("ExecStart")} 2>${noCapability}; then echo started-without; fi`,
                    `${AS_UNIT} ${line("ExecStartPre")}`,
                    `${AS_UNIT} ${line("ExecStart")}`,
                    `pid=$(cat ${p}/logs/nginx.pid)`,
                    `echo "master-uid $(awk '/^Uid:/ {print $2}' /proc/$pid/status) user-uid $(id -u ${USER})"`,
                    `echo "public $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/)"`,
                    `echo "config-id $(curl -s http://127.0.0.1:8081/bluegreen/config-id)"`,
                    // The switch reloads as the login, without sudo or the capability.
                    `${AS_LOGIN} ${line("ExecReload")}`,
                    `echo reloaded`,
                    `${AS_LOGIN} ${line("ExecStop")}`,
                    `for _ in $(seq 100); do [ -d /proc/$pid ] || break; sleep 0.05; done`,
                    `[ ! -d /proc/$pid ] && echo stopped`,
                    `cat ${noCapability}`,
                ].join("\n"),
                [],
                { net: true },
            );
            assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
            assert.doesNotMatch(run.stdout, /started-without/);
            const [, masterUid, userUid] = /master-uid (\d+) user-uid (\d+)/.exec(run.stdout) ?? [];
            assert.equal(masterUid, userUid, "the master runs as the app user");
            assert.notEqual(masterUid, "0");
            assert.match(run.stdout, /^public 502$/m, "nginx answers on port 80 (no app behind it here)");
            assert.match(run.stdout, new RegExp(`^config-id ${config.configId}$`, "m"));
            assert.match(run.stdout, /^reloaded$/m);
            assert.match(run.stdout, /^stopped$/m);
            // Without the capability the same command cannot bind the port: the capability is what it needs.
            assert.match(run.stdout, /bind\(\) to 127\.0\.0\.1:80 failed \(13: Permission denied\)/);
        });
    });

    it("the scripts reach root through the helper: lib.sh's install_unit and unit_as_root as the app user", () => {
        const lib = readTemplate("scripts/lib.sh");
        const script = `${lib}
install_unit bluegreen-app.service "$UNIT_TEXT"
unit_as_root start bluegreen-app.service
unit_as_root remove-unit bluegreen-app.service
echo done`;
        const run = pool.asUser(["bash", "-c", script, "test"], undefined, { UNIT_TEXT: pool.appUnit(50) });
        assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
        assert.match(run.stdout, /^done$/m);
        assert.deepEqual(pool.systemctlCalls(), [
            "daemon-reload",
            "enable --quiet bluegreen-app.service",
            "start bluegreen-app.service",
            "disable --now --quiet bluegreen-app.service",
            "daemon-reload",
        ]);
        assert.equal(pool.unitDir(), "");
        pool.clearCalls();
        // A unit the helper refuses fails the script, naming both.
        const refused = pool.asUser(
            ["bash", "-c", `${lib}\ninstall_unit bluegreen-app.service "$UNIT_TEXT"`, "t"],
            "",
            {
                UNIT_TEXT: withLine(pool.appUnit(), "User", "User=root"),
            },
        );
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /bluegreen-root: refused: bluegreen-app\.service line 10 'User=root'/);
        assert.match(refused.stderr, /error: installing the systemd unit bluegreen-app\.service failed/);
        assert.equal(pool.unitDir(), "");
        assert.deepEqual(pool.systemctlCalls(), []);
    });

    describe("hosts an earlier version set up, whose units ran as root", () => {
        it("app.log, which systemd opened as root, is moved aside: the app, as the login, writes a new one", () => {
            const appDir = `${pool.remoteDir}/app`;
            const setup = pool.asRoot(
                `install -d -o ${USER} -g ${USER} ${quoted(appDir)} && echo old >${quoted(appDir)}/app.log`,
            );
            assert.equal(setup.code, 0, setup.stderr);
            const libraries = ["lib.sh", "supervisor/supervisor.sh", "supervisor/process.sh", "supervisor/systemd.sh"];
            const text = libraries.map((file) => readTemplate(`scripts/${file}`)).join("\n");
            const env = {
                HOST_NAME: "blue-1",
                HOST_DIR: appDir,
                DRAIN_TIMEOUT_SECONDS: "5",
                PORT: "3000",
                BIND_ADDRESS: "127.0.0.1",
                POOL_COLOR: "blue",
                DRAIN_TOKEN_FILE: `${appDir}/drain-token`,
                START_COMMAND: "node server.js",
            };
            // What the app unit's shell does once started: append to app.log as the login.
            const script = `${text}\nsystemd_adopt_log\necho new >>"$log_file"\necho appended`;
            const run = pool.asUser(["bash", "-c", script, "t"], undefined, env);
            assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
            assert.match(run.stdout, /^appended$/m);
            assert.match(
                run.stderr,
                /blue-1: \S+\/app\.log was root's \(an earlier version's unit\): kept as \S+\.root/,
            );
            assert.equal(fs.readFileSync(`${appDir}/app.log.root`, "utf8"), "old\n");
            assert.equal(fs.statSync(`${appDir}/app.log.root`).uid, 0);
            assert.equal(fs.readFileSync(`${appDir}/app.log`, "utf8"), "new\n");
            assert.notEqual(fs.statSync(`${appDir}/app.log`).uid, 0, "the new log is the login's");
            // The login's own log stays where it is.
            const again = pool.asUser(["bash", "-c", script, "t"], undefined, env);
            assert.equal(again.code, 0, again.stderr);
            assert.equal(fs.readFileSync(`${appDir}/app.log`, "utf8"), "new\nnew\n");
        });

        it("a switch that would start nginx as the login in a prefix root wrote to stops first, naming the fix", () => {
            const p = nginx.prefix;
            const setup = nginx.asRoot(
                `rm -rf ${p} && install -d -o ${USER} -g ${USER} ${p} ${p}/logs && echo old >${p}/logs/error.log`,
            );
            assert.equal(setup.code, 0, setup.stderr);
            const text = ["lib.sh", ...SCRIPTS.nginxSwitch.libraries]
                .map((file) => readTemplate(`scripts/${file}`))
                .join("\n");
            const env = {
                NGINX_PREFIX: p,
                BASE_DIR: path.dirname(p),
                NGINX_CONF: "# unused",
                CONFIG_ID: "test",
                SWITCH_MODE: "reload",
                LIVE_COLOR: "blue",
                VERIFY_URL: "http://127.0.0.1:1",
                INTERNAL_URL: "http://127.0.0.1:1",
                SMOKE_PATHS: "/",
                VERIFY_TIMEOUT_SECONDS: "1",
                HEALTH_INTERVAL_MS: "100",
                POOL_COLOR: "blue",
                EXPECT_VERSION: "1.0.0",
                GATE_TIMEOUT_SECONDS: "1",
                SUPERVISOR: "systemd",
                NGINX_UNIT_TEXT: nginx.nginxUnit(),
            };
            const script = `${text}\nprepare_prefix\necho prepared`;
            const refused = nginx.asUser(["bash", "-c", script, "t"], undefined, env, { systemd: true });
            assert.equal(refused.code, 1, `${refused.stdout}${refused.stderr}`);
            assert.match(
                refused.stderr,
                new RegExp(
                    `nginx's unit runs nginx as ${USER} now, who cannot write ${p}/logs/error\\.log .*` +
                        `Fix, on the nginx host: sudo chown -R ${USER}: ${p}; then pulumi up`,
                ),
            );
            assert.doesNotMatch(refused.stdout, /prepared/);
            // After the fix it goes on.
            assert.equal(nginx.asRoot(`chown -R ${USER}: ${p}`).code, 0);
            const fixed = nginx.asUser(["bash", "-c", script, "t"], undefined, env, { systemd: true });
            assert.equal(fixed.code, 0, `${fixed.stdout}${fixed.stderr}`);
            assert.match(fixed.stdout, /^prepared$/m);
        });
    });
});
