using Accelerator.Cli;

return await AccelCommand.RunAsync(args).ConfigureAwait(false);
