/** @module The runner's progress lines on stdout: `[bench HH:MM:SS] …`. */
export const log = (s: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
