package main

const outputHelp = `
OUT must be a new name, a regular file (replaced), or a symbolic link to a
regular file: then the file the link points to is replaced and the link
stays a link. A directory, a device, a FIFO, a socket, a link to nothing,
and every file the command reads (the input, its index and shards, the
adapter's files, config.json), by whatever path it is named, are refused
before any work. Each file (OUT, or its shards and index, and
config.json) is written first to a temporary .NAME.XXXXXXXXXXXX.nf4tmp
beside it, and all are renamed into place only once every one is
complete, so a failed or interrupted run leaves an earlier output exactly
as it was. A run killed outright (SIGKILL, a power cut) can leave such
temporaries behind: the next run that writes NAME in that folder removes
them.
`
