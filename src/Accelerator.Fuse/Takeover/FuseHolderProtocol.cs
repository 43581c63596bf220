using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// The holder's wire format: frames of an 8-byte header — protocol version (u32, little-endian), body length (u32) —
/// and a UTF-8 JSON body (<see cref="HolderMessage"/>). A descriptor rides with the frame that needs it (a deposit, a
/// claimed reply) as <c>SCM_RIGHTS</c> ancillary data; at most one per frame, the rest closed on arrival.
/// </summary>
internal static class FuseHolderProtocol
{
    /// <summary>The protocol version this code speaks; a frame of another version is refused.</summary>
    public const uint Version = 1;

    /// <summary>The header: version and body length.</summary>
    public const int HeaderSize = 8;

    /// <summary>The largest body (1 MiB).</summary>
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>The largest state of one entry (64 KiB of UTF-8).</summary>
    public const int MaxStateBytes = 64 * 1024;

    /// <summary>The longest key (4096 bytes of UTF-8).</summary>
    public const int MaxKeyBytes = 4096;

    /// <summary>The most entries one holder keeps.</summary>
    public const int MaxEntries = 4096;

    /// <summary>The longest a claimant may ask the holder to wait for the owner to let go.</summary>
    public static readonly TimeSpan MaxReleaseTimeout = TimeSpan.FromMinutes(5);

    public static class Types
    {
        public const string Hello = "hello";
        public const string Welcome = "welcome";
        public const string Deposit = "deposit";
        public const string Claim = "claim";
        public const string Forget = "forget";
        public const string List = "list";
        public const string Ok = "ok";
        public const string Claimed = "claimed";
        public const string NotHeld = "not-held";
        public const string Listing = "listing";
        public const string Release = "release";
        public const string Error = "error";
    }

    /// <summary>Why a key is refused, or null when it is acceptable: 1 to 4096 bytes of UTF-8, no NUL.</summary>
    public static string? CheckKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "The key is empty.";
        }

        if (key.Contains('\0', StringComparison.Ordinal))
        {
            return "The key contains a NUL character.";
        }

        int bytes = Encoding.UTF8.GetByteCount(key);
        return bytes > MaxKeyBytes ? $"The key is {bytes} bytes long; at most {MaxKeyBytes} are allowed." : null;
    }

    /// <summary>Why a state is refused, or null: at most 64 KiB of UTF-8.</summary>
    public static string? CheckState(string? state)
    {
        if (state is null)
        {
            return "The state is missing.";
        }

        int bytes = Encoding.UTF8.GetByteCount(state);
        return bytes > MaxStateBytes ? $"The state is {bytes} bytes long; at most {MaxStateBytes} are allowed." : null;
    }

    /// <summary>The bytes of one frame carrying <paramref name="message"/>.</summary>
    /// <exception cref="FuseHolderException">The body would exceed <see cref="MaxMessageBytes"/>.</exception>
    public static byte[] Encode(HolderMessage message)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(message, HolderJsonContext.Default.HolderMessage);
        if (body.Length > MaxMessageBytes)
        {
            throw new FuseHolderException($"A holder message of {body.Length} bytes exceeds the limit of {MaxMessageBytes} bytes.");
        }

        byte[] frame = new byte[HeaderSize + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Version);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)body.Length);
        body.CopyTo(frame, HeaderSize);
        return frame;
    }

    /// <summary>The size of <paramref name="entry"/> in a listing's body.</summary>
    public static int EncodedSize(HeldEntry entry) => JsonSerializer.SerializeToUtf8Bytes(entry, HolderJsonContext.Default.HeldEntry).Length + 1;
}

/// <summary>One frame of the holder protocol; which fields are set depends on <see cref="Type"/>.</summary>
internal sealed class HolderMessage
{
    public string Type { get; set; } = string.Empty;

    public string? Key { get; set; }

    public string? State { get; set; }

    public List<string>? Keys { get; set; }

    /// <summary>The holder's pid (welcome), the predecessor's (claimed).</summary>
    public int? Pid { get; set; }

    public long? ReleaseTimeoutMilliseconds { get; set; }

    /// <summary>A listing continues after this key (ordinal order).</summary>
    public string? After { get; set; }

    public List<HeldEntry>? Entries { get; set; }

    public bool? More { get; set; }

    public bool? Held { get; set; }

    public string? Error { get; set; }
}

/// <summary>One held entry in a listing.</summary>
internal sealed class HeldEntry
{
    public string Key { get; set; } = string.Empty;

    public int? OwnerPid { get; set; }

    public string State { get; set; } = string.Empty;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 8)]
[JsonSerializable(typeof(HolderMessage))]
[JsonSerializable(typeof(HeldEntry))]
internal sealed partial class HolderJsonContext : JsonSerializerContext;

/// <summary>
/// Frames over a <see cref="DescriptorSocket"/>: sends (serialized by a lock, so a release and a reply never
/// interleave) and receives (one thread), every length checked before it is trusted.
/// </summary>
internal sealed class FuseHolderChannel(DescriptorSocket socket) : IDisposable
{
    private readonly Lock _sendLock = new();

    public DescriptorSocket Socket { get; } = socket;

    public PeerCredentials Peer => Socket.Peer;

    /// <summary>Sends <paramref name="message"/>, with a copy of <paramref name="descriptor"/> when given.</summary>
    /// <exception cref="IOException">The peer is gone.</exception>
    public void Send(HolderMessage message, SafeHandle? descriptor = null)
    {
        byte[] frame = FuseHolderProtocol.Encode(message);
        lock (_sendLock)
        {
            if (descriptor is null)
            {
                Socket.Send(frame);
            }
            else
            {
                Socket.Send(frame, [descriptor]);
            }
        }
    }

    /// <summary>
    /// Receives one frame (blocking); null when the peer closed between frames. The descriptor that came with it, if
    /// any, is the caller's; extra ones were closed.
    /// </summary>
    /// <exception cref="FuseHolderException">A bad frame (version, length, JSON) or a stream cut inside a frame.</exception>
    public HolderMessage? Receive(out SafeFileHandle? descriptor)
    {
        descriptor = null;
        var descriptors = new List<SafeFileHandle>(1);
        try
        {
            Span<byte> header = stackalloc byte[FuseHolderProtocol.HeaderSize];
            int first = Socket.Receive(header, descriptors, 1, out _);
            if (first == 0)
            {
                return null;
            }

            if (!Socket.ReceiveExactly(header[first..], descriptors, 1, out _))
            {
                throw new FuseHolderException("The connection ended inside a frame header.");
            }

            uint version = BinaryPrimitives.ReadUInt32LittleEndian(header);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (version != FuseHolderProtocol.Version)
            {
                throw new FuseHolderException($"Holder protocol version {version} is not supported (this side speaks {FuseHolderProtocol.Version}).");
            }

            if (length > FuseHolderProtocol.MaxMessageBytes)
            {
                throw new FuseHolderException($"A holder message of {length} bytes exceeds the limit of {FuseHolderProtocol.MaxMessageBytes} bytes.");
            }

            byte[] body = new byte[length];
            if (!Socket.ReceiveExactly(body, descriptors, 1, out _))
            {
                throw new FuseHolderException("The connection ended inside a frame.");
            }

            HolderMessage? message;
            try
            {
                message = JsonSerializer.Deserialize(body, HolderJsonContext.Default.HolderMessage);
            }
            catch (JsonException ex)
            {
                throw new FuseHolderException($"A holder message is not valid JSON: {ex.Message}", ex);
            }

            if (message is null || string.IsNullOrEmpty(message.Type))
            {
                throw new FuseHolderException("A holder message has no type.");
            }

            descriptor = descriptors.Count > 0 ? descriptors[0] : null;
            descriptors.Clear();
            return message;
        }
        finally
        {
            foreach (var extra in descriptors)
            {
                extra.Dispose();
            }
        }
    }

    public void Dispose() => Socket.Dispose();
}
