import { whichDesktop, type DesktopProxySettings } from './desktop.js';
import { readGnomeSettings } from './gnome.js';
import { readKdeSettings } from './kde.js';
import { readMacosSettings } from './macos.js';

/** The settings of the desktop in use (whichDesktop), or undefined: none, or unreadable. */
export async function readDesktopSettings(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): Promise<DesktopProxySettings | undefined> {
  switch (whichDesktop(platform, env)) {
    case 'gnome':
      return readGnomeSettings(env);
    case 'kde':
      return readKdeSettings(env);
    case 'macos':
      return readMacosSettings(env);
    default:
      return undefined;
  }
}
