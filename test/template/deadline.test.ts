// The command line every remote script runs under (components/hosts.ts scriptCommands with a
// deadline and a lock), run by sh and by bash as sshd would run it with either login shell: the
// host itself stops a script past its deadline and says so; scripts on one host run one at a
// time, and what a script starts does not keep the lock; within its deadline a script's output
// and exit status pass through unchanged.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { scriptCommands } from "../../components/hosts";

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

function remoteCommand(scriptText: string, deadlineSeconds: number, lockFile?: string) {
    const { commands, environment, scriptTexts } = scriptCommands(
        { create: { name: "slow.sh", text: scriptText }, environment: { NAME: "green-1" } },
        deadlineSeconds,
        lockFile,
    );
    const env = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        ...(environment as Record<string, string>),
        ...scriptTexts,
    };
    return { commandLine: commands.create!, env };
}

for (const shell of ["/bin/sh", "/bin/bash"]) {
    describe(`remote scripts under a deadline and a host lock (login shell ${shell})`, () => {
        let dir: string;
        let lock: string;

        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-deadline-"));
            lock = path.join(dir, ".lock");
        });

        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        function runRemote(scriptText: string, deadlineSeconds: number, lockFile?: string): Run {
            const { commandLine, env } = remoteCommand(scriptText, deadlineSeconds, lockFile);
            // stdin not a socket, or bash would read ~/.bashrc as it does under rshd/sshd.
            const run = spawnSync(shell, ["-c", commandLine], {
                env,
                encoding: "utf8",
                timeout: 60_000,
                stdio: ["ignore", "pipe", "pipe"],
            });
            return { status: run.status, stdout: run.stdout, stderr: run.stderr };
        }

        function runRemoteAsync(scriptText: string, deadlineSeconds: number, lockFile: string): Promise<Run> {
            const { commandLine, env } = remoteCommand(scriptText, deadlineSeconds, lockFile);
            return new Promise((resolve) => {
                const child = spawn(shell, ["-c", commandLine], { env, stdio: ["ignore", "pipe", "pipe"] });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (c) => (stdout += c));
                child.stderr.on("data", (c) => (stderr += c));
                child.on("close", (status) => resolve({ status, stdout, stderr }));
            });
        }

        it("a script past its deadline is stopped by the host, and the failure says which script and how long", () => {
            const run = runRemote('echo "started on $BLUEGREEN_NAME"; sleep 30; echo "never printed"', 1, lock);
            assert.equal(run.status, 124, "timeout's status: the script was stopped");
            assert.equal(run.stdout.trim(), "started on green-1");
            assert.match(
                run.stderr,
                /^error: slow\.sh did not finish within its 1 s deadline on \S+; it was stopped$/m,
            );
        });

        it("a script that ignores SIGTERM is killed 10 s after the deadline", () => {
            const run = runRemote("trap '' TERM; sleep 30", 1);
            assert.equal(run.status, 137, "SIGKILL's status");
            assert.match(run.stderr, /slow\.sh did not finish within its 1 s deadline/);
        });

        it("a second script waits for the first and gives up at its own deadline, naming the lock", async () => {
            const first = runRemoteAsync(
                `echo first >>${dir}/order; sleep 3; echo first-done >>${dir}/order`,
                10,
                lock,
            );
            while (!fs.existsSync(path.join(dir, "order"))) await new Promise((r) => setTimeout(r, 20));
            const second = await runRemoteAsync(`echo second >>${dir}/order`, 10, lock);
            assert.equal(second.status, 0, second.stderr);
            assert.equal((await first).status, 0);
            assert.deepEqual(
                fs.readFileSync(path.join(dir, "order"), "utf8").trim().split("\n"),
                ["first", "first-done", "second"],
                "one at a time",
            );
            const holder = runRemoteAsync(`touch ${dir}/holding; sleep 4`, 10, lock);
            while (!fs.existsSync(path.join(dir, "holding"))) await new Promise((r) => setTimeout(r, 20));
            const refused = runRemote("echo never", 1, lock);
            assert.equal(refused.status, 75);
            assert.match(
                refused.stderr,
                new RegExp(
                    `error: another script still ran on \\S+ after 1 s \\(it holds ${lock.replace(/[.]/g, "\\.")}\\)`,
                ),
            );
            assert.equal(refused.stdout, "");
            await holder;
        });

        it("a process the script leaves running (an app) does not hold the lock", () => {
            const started = runRemote(`setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! >${dir}/app.pid`, 5, lock);
            assert.equal(started.status, 0, started.stderr);
            const pid = Number(fs.readFileSync(path.join(dir, "app.pid"), "utf8"));
            try {
                assert.ok(fs.existsSync(`/proc/${pid}`), "the app still runs");
                const next = runRemote("echo next", 1, lock);
                assert.deepEqual(
                    next,
                    { status: 0, stdout: "next\n", stderr: "" },
                    "the next script did not wait for the app",
                );
            } finally {
                process.kill(pid, "SIGKILL");
            }
        });

        it("within the deadline, the script's output and exit status pass through unchanged", () => {
            assert.deepEqual(runRemote('echo "ok $BLUEGREEN_NAME"', 5, lock), {
                status: 0,
                stdout: "ok green-1\n",
                stderr: "",
            });
            const failed = runRemote('echo "bad input" >&2; exit 3', 5, lock);
            assert.equal(failed.status, 3);
            assert.equal(failed.stderr, "bad input\n", "no deadline message for a script's own failure");
        });
    });
}
