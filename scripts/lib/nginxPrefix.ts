// Throwaway nginx prefixes on this machine (conf/, logs/, temp/, modules/), for the bench's
// baselines and mechanism servers and for `nginx -t` in the tests. Stopped by their pid file only.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

let modules: string | undefined;

/** nginx's modules directory on this machine (no-reload mode loads the Lua module from it). */
export function nginxModulesDir(): string {
    modules ??=
        /--modules-path=(\S+)/.exec(execFileSync("sh", ["-c", "nginx -V 2>&1"], { encoding: "utf8" }))?.[1] ??
        "/usr/lib/nginx/modules";
    return modules;
}

/** A fresh prefix in the temp dir, named `<name>-XXXXXX`; the caller removes it. */
export function createNginxPrefix(name: string): string {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    // Workers run as nobody when this runs as root: they must reach the prefix.
    fs.chmodSync(prefix, 0o755);
    for (const d of ["conf", "logs", "temp"]) fs.mkdirSync(path.join(prefix, d));
    fs.symlinkSync(nginxModulesDir(), path.join(prefix, "modules"));
    return prefix;
}

/** nginx's arguments (`extra` first) for a prefix's conf/nginx.conf, with its own error log. */
export function nginxArgs(prefix: string, ...extra: string[]): string[] {
    const conf = path.join(prefix, "conf", "nginx.conf");
    return [...extra, "-p", `${prefix}/`, "-e", path.join(prefix, "logs", "error.log"), "-c", conf];
}

/** Starts nginx on a prefix's conf/nginx.conf; returns once it has daemonized. */
export function startNginx(prefix: string): void {
    execFileSync("nginx", nginxArgs(prefix));
}

/** Asks the nginx of a prefix to quit (SIGQUIT: it finishes what is in flight); quiet when not running. */
export function stopNginx(prefix: string): void {
    try {
        process.kill(Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8")), "SIGQUIT");
    } catch {
        /* not running */
    }
}
