using System.Numerics;
using Accelerator.Fuse.Protocol;

namespace Accelerator.Fuse;

/// <summary>What a <see cref="FuseSession"/> served: requests by operation, reads and their sizes, errors. Thread-safe.</summary>
public sealed class FuseSessionStatistics
{
    private const int OpcodeSlots = 64;
    private readonly long[] _byOpcode = new long[OpcodeSlots + 1];
    private readonly long[] _readsBySizeBit = new long[64];
    private long _requests;
    private long _bytesRead;
    private long _largestRead;
    private long _errorReplies;
    private long _interrupts;
    private long _timedOutReads;
    private long _malformed;
    private long _openFiles;
    private long _openDirectories;
    private long _forgets;
    private long _resent;
    private long _rebuiltListings;

    /// <summary>All requests received.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>READ requests.</summary>
    public long ReadRequests => GetRequestCount(FuseOpcode.Read);

    /// <summary>Bytes replied to READ requests.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>The largest size a READ request asked for.</summary>
    public long LargestReadRequest => Interlocked.Read(ref _largestRead);

    /// <summary>Replies that carried an error.</summary>
    public long ErrorReplies => Interlocked.Read(ref _errorReplies);

    /// <summary>Requests interrupted by the kernel (INTERRUPT matched to a read in flight).</summary>
    public long Interrupts => Interlocked.Read(ref _interrupts);

    /// <summary>Reads answered with EIO because the file system took longer than the request timeout.</summary>
    public long TimedOutReads => Interlocked.Read(ref _timedOutReads);

    /// <summary>Requests that broke the protocol (answered with an error when their header was readable).</summary>
    public long MalformedRequests => Interlocked.Read(ref _malformed);

    /// <summary>Files open now (OPEN minus RELEASE; a resumed session also counts the RELEASEs of its predecessor's opens, so it may go below zero).</summary>
    public long OpenFiles => Interlocked.Read(ref _openFiles);

    /// <summary>Directories open now (OPENDIR and rebuilt listings minus RELEASEDIR of known handles).</summary>
    public long OpenDirectories => Interlocked.Read(ref _openDirectories);

    /// <summary>Lookups the kernel forgot (FORGET and BATCH_FORGET items).</summary>
    public long Forgets => Interlocked.Read(ref _forgets);

    /// <summary>
    /// Requests the kernel sent again after a resend notification (<see cref="FuseProtocol.UniqueResend"/> set): what a
    /// predecessor had read and not answered.
    /// </summary>
    public long ResentRequests => Interlocked.Read(ref _resent);

    /// <summary>
    /// READDIRs of a directory handle this session did not open (a predecessor's), answered from a listing rebuilt from
    /// the node id.
    /// </summary>
    public long RebuiltListings => Interlocked.Read(ref _rebuiltListings);

    /// <summary>Requests received with <paramref name="opcode"/>.</summary>
    public long GetRequestCount(FuseOpcode opcode) => Interlocked.Read(ref _byOpcode[Slot(opcode)]);

    /// <summary>
    /// READ requests that asked for at least <paramref name="minimumSize"/> bytes (exact when it is a power of two;
    /// otherwise counted from the power of two below it).
    /// </summary>
    public long CountReadRequests(int minimumSize)
    {
        int from = minimumSize <= 1 ? 0 : BitOperations.Log2((uint)minimumSize);
        long count = 0;
        for (int bit = from; bit < _readsBySizeBit.Length; bit++)
        {
            count += Interlocked.Read(ref _readsBySizeBit[bit]);
        }

        return count;
    }

    internal void AddRequest(FuseOpcode opcode)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _byOpcode[Slot(opcode)]);
    }

    internal void AddReadRequest(uint size)
    {
        Interlocked.Increment(ref _readsBySizeBit[size == 0 ? 0 : BitOperations.Log2(size)]);
        long current;
        while (size > (current = Interlocked.Read(ref _largestRead)) && Interlocked.CompareExchange(ref _largestRead, size, current) != current)
        {
        }
    }

    internal void AddBytesRead(int bytes) => Interlocked.Add(ref _bytesRead, bytes);

    internal void AddErrorReply() => Interlocked.Increment(ref _errorReplies);

    internal void AddInterrupt() => Interlocked.Increment(ref _interrupts);

    internal void AddTimedOutRead() => Interlocked.Increment(ref _timedOutReads);

    internal void AddMalformed() => Interlocked.Increment(ref _malformed);

    internal void AddOpenFile(int delta) => Interlocked.Add(ref _openFiles, delta);

    internal void AddOpenDirectory(int delta) => Interlocked.Add(ref _openDirectories, delta);

    internal void AddForgets(long count) => Interlocked.Add(ref _forgets, count);

    internal void AddResent() => Interlocked.Increment(ref _resent);

    internal void AddRebuiltListing() => Interlocked.Increment(ref _rebuiltListings);

    // Opcodes beyond the table (CUSE_INIT, garbage) share the last slot.
    private static int Slot(FuseOpcode opcode) => (uint)opcode < OpcodeSlots ? (int)opcode : OpcodeSlots;
}
