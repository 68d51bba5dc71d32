// Directories the project writes and trusts must be its user's alone: in a directory others can
// write, a local user could plant a release, a token or a symlink first, and the project would
// trust it (as root, a planted release ran as root).
import * as fs from "node:fs";
import * as path from "node:path";

const STICKY = 0o1000;
const WRITABLE_BY_OTHERS = 0o022;

/**
 * Why `dir` is not safe to keep state in, or undefined when it is: it (when it exists) must be
 * owned by `uid` and writable by nobody else; every directory above it must be owned by `uid` or
 * root, and writable by nobody else unless sticky (as /tmp is: others cannot touch what is ours).
 */
export function privateDirProblem(dir: string, uid: number): string | undefined {
    const absolute = path.resolve(dir);
    const own = fs.statSync(absolute, { throwIfNoEntry: false });
    if (own) {
        if (own.uid !== uid) return `${absolute} belongs to user ${own.uid}, not to the deploying user ${uid}`;
        if (own.mode & WRITABLE_BY_OTHERS) return `${absolute} is writable by others (mode ${modeOf(own)})`;
    }
    for (let above = path.dirname(absolute); ; above = path.dirname(above)) {
        const stat = fs.statSync(above, { throwIfNoEntry: false });
        if (stat) {
            if (stat.uid !== uid && stat.uid !== 0) {
                return `${above} belongs to user ${stat.uid}, who could replace what is under it`;
            }
            if (stat.mode & WRITABLE_BY_OTHERS && !(stat.mode & STICKY)) {
                return `${above} is writable by others (mode ${modeOf(stat)}), who could replace what is under it`;
            }
        }
        if (above === path.dirname(above)) return undefined;
    }
}

function modeOf(stat: fs.Stats): string {
    return (stat.mode & 0o7777).toString(8).padStart(4, "0");
}
