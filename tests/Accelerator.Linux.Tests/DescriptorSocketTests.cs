using System.IO.Pipes;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Linux.Tests;

/// <summary>SCM_RIGHTS descriptor passing, SO_PEERCRED, poll(2), kill(2) and eventfd on real sockets, pipes and files.</summary>
public sealed class DescriptorSocketTests : IDisposable
{
    // fcntl.h: F_GETFD and FD_CLOEXEC.
    private const int F_GETFD = 1;
    private const int FD_CLOEXEC = 1;

    private readonly string _directory = Directory.CreateTempSubdirectory("accel-scm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Send_PipeReadEnd_ReceiverReadsWhatIsWrittenToThePipe()
    {
        var (sender, receiver) = ConnectedPair();
        using (sender)
        using (receiver)
        using (var pipe = new AnonymousPipeServerStream(PipeDirection.Out))
        {
            sender.Send("pipe"u8, [pipe.ClientSafePipeHandle]);
            pipe.DisposeLocalCopyOfClientHandle();
            var descriptors = new List<SafeFileHandle>();
            byte[] buffer = new byte[16];

            int n = receiver.Receive(buffer, descriptors, 1, out int discarded);

            Assert.Equal(("pipe", 0), (System.Text.Encoding.ASCII.GetString(buffer, 0, n), discarded));
            using var readEnd = Assert.Single(descriptors);
            Assert.Equal(FD_CLOEXEC, LibC.Fcntl(readEnd, F_GETFD, 0) & FD_CLOEXEC);
            pipe.Write("through the pipe"u8);
            pipe.Flush();
            byte[] read = new byte[64];
            int count = LibC.Read((int)readEnd.DangerousGetHandle(), read);
            Assert.Equal("through the pipe", System.Text.Encoding.ASCII.GetString(read, 0, count));
        }
    }

    [Fact]
    public void Send_FileAndMoreThanTheBound_KeepsTheBoundAndClosesTheRest()
    {
        string path = Path.Combine(_directory, "file");
        File.WriteAllText(path, "file content");
        var (sender, receiver) = ConnectedPair();
        using (sender)
        using (receiver)
        using (var first = File.OpenHandle(path))
        using (var second = File.OpenHandle(path))
        using (var third = File.OpenHandle(path))
        {
            sender.Send("x"u8, [first, second, third]);
            var descriptors = new List<SafeFileHandle>();
            byte[] buffer = new byte[1];

            Assert.Equal(1, receiver.Receive(buffer, descriptors, 1, out int discarded));

            Assert.Equal(2, discarded);
            using var kept = Assert.Single(descriptors);
            byte[] content = new byte[32];
            Assert.Equal("file content", System.Text.Encoding.ASCII.GetString(content, 0, RandomAccess.Read(kept, content, 0)));
        }
    }

    [Fact]
    public void Peer_BothEnds_AreThisProcess()
    {
        var (sender, receiver) = ConnectedPair();
        using (sender)
        using (receiver)
        {
            var expected = new PeerCredentials(Environment.ProcessId, LibC.Geteuid(), LibC.Getegid());
            Assert.Equal(expected, sender.Peer);
            Assert.Equal(expected, receiver.Peer);
        }
    }

    [Fact]
    public async Task Receive_PeerClosedOrLargeMessage_EndOfStreamAfterAllBytes()
    {
        var (sender, receiver) = ConnectedPair();
        using (receiver)
        {
            byte[] large = new byte[4 * 1024 * 1024];
            new Random(7).NextBytes(large);
            var sending = Task.Run(() =>
            {
                sender.Send(large);
                sender.Dispose();
            });
            byte[] received = new byte[large.Length];
            var descriptors = new List<SafeFileHandle>();

            Assert.True(receiver.ReceiveExactly(received, descriptors, 0, out _));
            Assert.Equal(large, received);
            Assert.Equal(0, receiver.Receive(new byte[1], descriptors, 0, out _));
            Assert.Empty(descriptors);
            await sending;
        }
    }

    [Fact]
    public async Task Receive_DisposedFromAnotherThread_Returns()
    {
        var (sender, receiver) = ConnectedPair();
        using (sender)
        {
            var receiving = Task.Factory.StartNew(() => receiver.Receive(new byte[8], [], 0, out _), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            receiver.Dispose();

            Assert.Equal(0, await receiving.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    [Fact]
    public void Poll_EventFdWritten_ReportsReadable()
    {
        using var eventFd = LibC.EventFd();
        int fd = (int)eventFd.DangerousGetHandle();
        Span<PollDescriptor> poll = [new PollDescriptor { Fd = fd, Events = LibC.POLLIN }];
        Assert.Equal(0, LibC.Poll(poll, 0));

        Assert.Equal(8, LibC.Write(fd, BitConverter.GetBytes(1UL)));

        Assert.Equal(1, LibC.Poll(poll, -1));
        Assert.Equal(LibC.POLLIN, poll[0].ReturnedEvents);
    }

    [Fact]
    public void Kill_SignalZero_TellsLiveFromGone()
    {
        const int ESRCH = 3;
        Assert.Equal(0, LibC.Kill(Environment.ProcessId, 0));

        // A pid above pid_max never exists.
        Assert.Equal(ESRCH, LibC.Kill(int.MaxValue, 0));
    }

    private (DescriptorSocket Sender, DescriptorSocket Receiver) ConnectedPair()
    {
        string path = Path.Combine(_directory, $"s{Guid.NewGuid():N}"[..12]);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var sender = DescriptorSocket.Connect(path);
        var receiver = new DescriptorSocket(listener.Accept());
        return (sender, receiver);
    }
}
