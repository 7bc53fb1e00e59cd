"""A volume published the kubelet's way, for the scripts that time the tool."""
import os
import time


def publish(volume, i, keys=('app.yaml',)):
    """Writes version i of each key into a new ..ts<i> directory and renames ..data_tmp onto
    ..data; returns the monotonic time just before the rename (the moment the update
    happens)."""
    ts = '..ts%d' % i
    os.mkdir(os.path.join(volume, ts))
    for key in keys:
        with open(os.path.join(volume, ts, key), 'w') as f:
            f.write('version: %d\n' % i)
    os.symlink(ts, os.path.join(volume, '..data_tmp'))
    t = time.monotonic()
    os.rename(os.path.join(volume, '..data_tmp'), os.path.join(volume, '..data'))
    return t
