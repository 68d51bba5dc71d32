// What a pool runs: a version, an artifact (a directory, or a tarball of one) and how it
// starts. The release id changes whenever any of them does, so a changed artifact redeploys
// even at the same version.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Release {
    readonly version: string;
    /** `<version>-<12 hex of the artifact's content and start command>`. */
    readonly releaseId: string;
    /** Absolute path of the artifact: a directory, or a tarball (see TARBALL). */
    readonly artifactPath: string;
    readonly startCommand: string;
}

/** Tarballs a release may come as (`npm pack`, `tar czf`, ...); the deploy unpacks them on the host. */
export const TARBALL = /\.(tar\.gz|tgz|tar)$/;

/** Hashes every file under `dir` (paths and bytes, in a stable order). */
function hashDirectory(dir: string, hash: ReturnType<typeof createHash>): void {
    const walk = (relative: string) => {
        const entries = fs
            .readdirSync(path.join(dir, relative), { withFileTypes: true })
            .sort((a, b) => a.name.localeCompare(b.name));
        for (const entry of entries) {
            const child = path.join(relative, entry.name);
            if (entry.isDirectory()) {
                walk(child);
            } else if (entry.isFile()) {
                hash.update(`${child}\0`);
                hash.update(fs.readFileSync(path.join(dir, child)));
                hash.update("\0");
            }
        }
    };
    walk(".");
}

/**
 * Describes a release. `configKey` names the config key that chose the artifact, for the
 * error when the directory is missing. `knownId` is the id recorded for these same settings.
 */
export function describeRelease(
    version: string,
    artifactPath: string,
    startCommand: string,
    configKey: string,
    knownId?: string,
): Release {
    const stat = fs.statSync(artifactPath, { throwIfNoEntry: false });
    const isTarball = stat?.isFile() === true && TARBALL.test(artifactPath);
    if (!stat?.isDirectory() && !isTarball) {
        const pointIt = `point ${configKey} at your app's directory or its tarball.`;
        throw new Error(
            stat
                ? `${configKey}: ${artifactPath} is neither a directory nor a tarball (.tar.gz, .tgz or .tar). ` +
                      pointIt.replace(/^p/, "P")
                : `${configKey}: the artifact ${artifactPath} does not exist. ` +
                      `For the reference app (bin/app) run 'npm run build'; otherwise ${pointIt}`,
        );
    }
    // The same version, artifact path and start command as the deployed release: the same
    // release, even if the artifact was rebuilt since (ship new content with a new version).
    if (knownId) return { version, releaseId: knownId, artifactPath, startCommand };
    const hash = createHash("sha256");
    hash.update(`${startCommand}\0`);
    if (isTarball) hash.update(fs.readFileSync(artifactPath));
    else hashDirectory(artifactPath, hash);
    return { version, releaseId: `${version}-${hash.digest("hex").slice(0, 12)}`, artifactPath, startCommand };
}
