using Accelerator.Fuse.FileSystem;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>
/// A backend that hangs: reads of one inode wait until <see cref="Release"/> (or, if it honours cancellation, until
/// their token is cancelled); every other read goes to the real files. Stands for a dead registry or a hung peer.
/// </summary>
internal sealed class GatedContentReader(IFileContentReader inner, ulong hungInode, bool honoursCancellation) : IFileContentReader
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<CancellationToken> _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstCancellation = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cancelled;

    /// <summary>Completes with the read's token when the first read of the hung inode arrived.</summary>
    public Task<CancellationToken> Entered => _entered.Task;

    /// <summary>
    /// Completes when a read of the hung inode ended because its token was cancelled. The session answers a cancelled
    /// read without waiting for the backend, so its reply (and the reader's return) may come before this.
    /// </summary>
    public Task FirstCancellation => _firstCancellation.Task;

    /// <summary>Reads of the hung inode that ended because their token was cancelled.</summary>
    public int Cancelled => Volatile.Read(ref _cancelled);

    /// <summary>Lets every waiting and later read of the hung inode through.</summary>
    public void Release() => _release.TrySetResult();

    public async ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (inode == hungInode)
        {
            _entered.TrySetResult(cancellationToken);
            if (honoursCancellation)
            {
                try
                {
                    await _release.Task.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _cancelled);
                    _firstCancellation.TrySetResult();
                    throw;
                }
            }
            else
            {
                await _release.Task;
            }
        }

        return await inner.ReadAsync(inode, offset, buffer, cancellationToken);
    }
}
