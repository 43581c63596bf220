using Accelerator.Lazy.Reading;

namespace Accelerator.Lazy.Tests.Reading;

public sealed class FetchGateTests
{
    [Fact]
    public async Task EnterAsync_ForegroundWaiting_BackgroundHeldBackUntilItIsServed()
    {
        var gate = new FetchGate(foregroundLimit: 1, backgroundLimit: 2);
        var held = await gate.EnterAsync(background: false, default);
        var foreground = gate.EnterAsync(background: false, default).AsTask();

        // A background slot is free, but a reader is waiting: prefetch must not start.
        var background = gate.EnterAsync(background: true, default).AsTask();
        Assert.False(foreground.IsCompleted);
        Assert.False(background.IsCompleted);

        held.Dispose();
        var granted = await foreground;
        await background.WaitAsync(TimeSpan.FromSeconds(30));
        granted.Dispose();
        (await background).Dispose();
    }

    [Fact]
    public async Task EnterAsync_BackgroundLimit_Enforced()
    {
        var gate = new FetchGate(foregroundLimit: 4, backgroundLimit: 1);
        var first = await gate.EnterAsync(background: true, default);
        var second = gate.EnterAsync(background: true, default).AsTask();
        var reader = await gate.EnterAsync(background: false, default);

        Assert.False(second.IsCompleted);
        first.Dispose();
        (await second).Dispose();
        reader.Dispose();
    }

    [Fact]
    public async Task EnterAsync_CanceledWhileWaiting_ThrowsAndSlotNotLost()
    {
        var gate = new FetchGate(foregroundLimit: 1, backgroundLimit: 1);
        var held = await gate.EnterAsync(background: false, default);
        using var cancel = new CancellationTokenSource();
        var waiting = gate.EnterAsync(background: false, cancel.Token).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();

        (await gate.EnterAsync(background: false, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Dispose();
        (await gate.EnterAsync(background: true, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Dispose();
    }
}
