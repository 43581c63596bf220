using System.Text;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Fuse;

public sealed partial class FuseSession
{
    // open(2) flags (asm-generic/fcntl.h).
    private const uint O_ACCMODE = 3;
    private const uint O_TRUNC = 0x200;

    // access(2) mask bits (unistd.h).
    private const uint R_OK = 4;
    private const uint W_OK = 2;
    private const uint X_OK = 1;

    /// <summary>Serves one request as read from the device; replies through the sink (not for FORGET and BATCH_FORGET).</summary>
    internal void Process(ReadOnlySpan<byte> message, ReaderBuffers buffers)
    {
        FuseRequest request;
        try
        {
            request = FuseRequest.Parse(message);
        }
        catch (FuseProtocolException ex)
        {
            Statistics.AddMalformed();
            if (FuseRequest.TryReadHeader(message, out var header))
            {
                LogMalformed(header.Opcode, header.Unique, ex.Message);
                ReplyError(buffers.Reply, header.Unique, Errno.EIO);
            }
            else
            {
                LogMalformed(0, 0, ex.Message);
            }

            return;
        }

        Statistics.AddRequest(request.Opcode);
        if ((request.Unique & FuseProtocol.UniqueResend) != 0)
        {
            // Sent again after FUSE_NOTIFY_RESEND: served like any request, the reply echoes the unique with the bit.
            Statistics.AddResent();
        }

        // FORGET and BATCH_FORGET are never answered, not even when malformed.
        bool answered = request.Opcode is not (FuseOpcode.Forget or FuseOpcode.BatchForget or FuseOpcode.NotifyReply);
        try
        {
            Dispatch(request, buffers);
        }
        catch (FuseProtocolException ex)
        {
            Statistics.AddMalformed();
            LogMalformed((uint)request.Opcode, request.Unique, ex.Message);
            if (answered)
            {
                ReplyError(buffers.Reply, request.Unique, Errno.EINVAL);
            }
        }
        catch (FuseErrorException ex) when (answered)
        {
            ReplyError(buffers.Reply, request.Unique, ex.Errno);
        }
        catch (Exception ex) when (answered)
        {
            LogOperationFailed(request.Opcode, request.NodeId, ex);
            ReplyError(buffers.Reply, request.Unique, Errno.EIO);
        }
    }

    private void Dispatch(in FuseRequest request, ReaderBuffers buffers)
    {
        var connection = _connection;
        if (request.Opcode == FuseOpcode.Init)
        {
            HandleInit(request, buffers.Reply);
            return;
        }

        if (connection is null)
        {
            // linux/fuse.h: INIT is the first request of a connection; nothing else is served before it.
            ReplyError(buffers.Reply, request.Unique, Errno.EIO);
            return;
        }

        byte[] reply = buffers.Reply;
        switch (request.Opcode)
        {
            case FuseOpcode.Lookup:
                HandleLookup(request, reply, connection);
                break;
            case FuseOpcode.Forget:
                Statistics.AddForgets(1);
                _ = request.Read<FuseForgetIn>();
                break; // FORGET has no reply; node ids are stable inode numbers, nothing to release.
            case FuseOpcode.BatchForget:
                Statistics.AddForgets(request.ReadBatchForget().Length);
                break;
            case FuseOpcode.GetAttr:
                _ = request.ReadGetAttr();
                HandleGetAttr(request, reply, connection);
                break;
            case FuseOpcode.ReadLink:
                HandleReadLink(request, reply);
                break;
            case FuseOpcode.Open:
                HandleOpen(request, reply);
                break;
            case FuseOpcode.OpenDir:
                HandleOpenDir(request, reply);
                break;
            case FuseOpcode.Release:
                _ = request.Read<FuseReleaseIn>();
                Statistics.AddOpenFile(-1);
                Reply(reply, FuseReply.WriteEmpty(reply, request.Unique));
                break;
            case FuseOpcode.ReleaseDir:
                var release = request.Read<FuseReleaseIn>();
                if (_directories.TryRemove(release.FileHandle, out _))
                {
                    Statistics.AddOpenDirectory(-1);
                }

                Reply(reply, FuseReply.WriteEmpty(reply, request.Unique));
                break;
            case FuseOpcode.Read:
                HandleRead(request, connection);
                break;
            case FuseOpcode.ReadDir:
            case FuseOpcode.ReadDirPlus:
                HandleReadDir(request, reply);
                break;
            case FuseOpcode.StatFs:
                HandleStatFs(request, reply, connection);
                break;
            case FuseOpcode.GetXattr:
                HandleGetXattr(request, reply);
                break;
            case FuseOpcode.ListXattr:
                HandleListXattr(request, reply);
                break;
            case FuseOpcode.Access:
                HandleAccess(request, reply);
                break;
            case FuseOpcode.NotifyReply:
                break; // no reply: the answer to a retrieve, which only ever wakes a reader (StopReadingAsync)
            case FuseOpcode.Interrupt:
                HandleInterrupt(request.Read<FuseInterruptIn>().Unique);
                break; // no reply: the interrupted request's reply (EINTR) is the answer
            case FuseOpcode.Destroy:
                LogDestroy();
                Reply(reply, FuseReply.WriteEmpty(reply, request.Unique));
                break;
            case FuseOpcode.SetAttr or FuseOpcode.Symlink or FuseOpcode.Mknod or FuseOpcode.Mkdir or FuseOpcode.Unlink
                or FuseOpcode.Rmdir or FuseOpcode.Rename or FuseOpcode.Rename2 or FuseOpcode.Link or FuseOpcode.Write
                or FuseOpcode.Create or FuseOpcode.SetXattr or FuseOpcode.RemoveXattr or FuseOpcode.Fallocate
                or FuseOpcode.CopyFileRange or FuseOpcode.TmpFile:
                ReplyError(reply, request.Unique, Errno.EROFS);
                break;
            default:
                // FLUSH, FSYNC, locks, LSEEK, IOCTL, POLL…: ENOSYS tells the kernel not to send them again.
                ReplyError(reply, request.Unique, Errno.ENOSYS);
                break;
        }
    }

    private void HandleInit(in FuseRequest request, byte[] reply)
    {
        if (_connection is not null)
        {
            ReplyError(reply, request.Unique, Errno.EPROTO);
            return;
        }

        var init = request.ReadInit();
        var settings = new FuseInitSettings
        {
            Flags = _options.InitFlags,
            MaxRead = _options.MaxRead,
            MaxWrite = _options.MaxWrite,
            MaxBackground = _options.MaxBackground,
        };
        var result = FuseInit.Negotiate(init, settings);
        if (result.Error != 0)
        {
            LogInitRefused(init.Major, init.Minor);
            ReplyError(reply, request.Unique, result.Error);
            return;
        }

        // Publish before replying: the kernel sends the next request as soon as it has the reply.
        if (result.Connection is { } connection)
        {
            _connection = connection;
        }

        Reply(reply, FuseReply.Write(reply, request.Unique, result.Reply, result.ReplySize));
        if (result.Connection is { } negotiated)
        {
            LogInitialized(negotiated.KernelMajor, negotiated.KernelMinor, negotiated.Minor, negotiated.MaxRead, negotiated.Flags);
            _initialized.TrySetResult(negotiated);
        }
    }

    private void HandleLookup(in FuseRequest request, byte[] reply, FuseConnectionInfo connection)
    {
        string name = Encoding.UTF8.GetString(request.ReadName());
        var attributes = _fileSystem.Lookup(request.NodeId, name);
        if (attributes is null)
        {
            if (_options.NegativeEntryTimeout <= TimeSpan.Zero)
            {
                ReplyError(reply, request.Unique, Errno.ENOENT);
                return;
            }

            // A zero node id with a timeout is a negative entry the kernel caches (fs/fuse/dir.c, fuse_lookup_name).
            var negative = default(FuseEntryOut);
            SetTimeout(_options.NegativeEntryTimeout, out negative.EntryValid, out negative.EntryValidNsec);
            Reply(reply, FuseReply.Write(reply, request.Unique, negative, FuseReply.EntryOutSize(connection.Minor)));
            return;
        }

        var entry = ToEntry(attributes.Value);
        Reply(reply, FuseReply.Write(reply, request.Unique, entry, FuseReply.EntryOutSize(connection.Minor)));
    }

    private void HandleGetAttr(in FuseRequest request, byte[] reply, FuseConnectionInfo connection)
    {
        var attributes = _fileSystem.GetAttributes(request.NodeId) ?? throw new FuseErrorException(Errno.ENOENT);
        var output = new FuseAttrOut { Attr = ToAttr(Check(attributes)) };
        SetTimeout(_options.AttributeTimeout, out output.AttrValid, out output.AttrValidNsec);
        Reply(reply, FuseReply.Write(reply, request.Unique, output, FuseReply.AttrOutSize(connection.Minor)));
    }

    private void HandleReadLink(in FuseRequest request, byte[] reply)
    {
        byte[] target = _fileSystem.ReadLink(request.NodeId) ?? throw new FuseErrorException(Errno.EINVAL);
        if (target.Length > reply.Length - FuseProtocol.OutHeaderSize)
        {
            throw new FuseErrorException(Errno.ENAMETOOLONG);
        }

        Reply(reply, FuseReply.WriteData(reply, request.Unique, target));
    }

    private void HandleOpen(in FuseRequest request, byte[] reply)
    {
        var open = request.Read<FuseOpenIn>();
        var attributes = _fileSystem.GetAttributes(request.NodeId) ?? throw new FuseErrorException(Errno.ENOENT);
        if (attributes.Type == FuseNodeType.Directory)
        {
            throw new FuseErrorException(Errno.EISDIR);
        }

        if ((open.Flags & O_ACCMODE) != 0 || (open.Flags & O_TRUNC) != 0)
        {
            throw new FuseErrorException(Errno.EROFS);
        }

        Statistics.AddOpenFile(1);
        Volatile.Write(ref _lastOpenedFile, request.NodeId);
        var output = new FuseOpenOut
        {
            FileHandle = (ulong)Interlocked.Increment(ref _nextHandle),
            OpenFlags = (uint)(_options.KeepCache ? FuseOpenFlags.KeepCache : FuseOpenFlags.None),
        };
        Reply(reply, FuseReply.Write(reply, request.Unique, output));
    }

    private void HandleOpenDir(in FuseRequest request, byte[] reply)
    {
        _ = request.Read<FuseOpenIn>();
        var attributes = _fileSystem.GetAttributes(request.NodeId) ?? throw new FuseErrorException(Errno.ENOENT);
        if (attributes.Type != FuseNodeType.Directory)
        {
            throw new FuseErrorException(Errno.ENOTDIR);
        }

        ulong handle = (ulong)Interlocked.Increment(ref _nextHandle);
        _directories[handle] = new DirectoryHandle(request.NodeId);
        Statistics.AddOpenDirectory(1);
        var output = new FuseOpenOut
        {
            FileHandle = handle,
            OpenFlags = (uint)(_options.KeepCache ? FuseOpenFlags.KeepCache | FuseOpenFlags.CacheDir : FuseOpenFlags.None),
        };
        Reply(reply, FuseReply.Write(reply, request.Unique, output));
    }

    private void HandleReadDir(in FuseRequest request, byte[] reply)
    {
        var read = request.ReadRead();
        if (!_directories.TryGetValue(read.FileHandle, out var handle) || handle.NodeId != request.NodeId)
        {
            handle = RebuildListing(read.FileHandle, request.NodeId);
        }

        var (entries, names) = handle.GetListing(_fileSystem);
        if (entries is null || names is null)
        {
            throw new FuseErrorException(Errno.ENOTDIR);
        }

        bool plus = request.Opcode == FuseOpcode.ReadDirPlus;
        int size = (int)Math.Min(read.Size, (uint)(reply.Length - FuseProtocol.OutHeaderSize));
        var writer = new FuseDirectoryWriter(reply.AsSpan(FuseProtocol.OutHeaderSize, size));

        // The offset is the cookie of the last entry returned: entry i carries i + 1.
        for (ulong index = read.Offset; index < (ulong)entries.Count; index++)
        {
            var entry = entries[(int)index];
            byte[] name = names[(int)index] ??= Encoding.UTF8.GetBytes(entry.Name);
            if (name.Length is 0 or > FuseProtocol.MaxNameLength || name.AsSpan().IndexOfAny((byte)0, (byte)'/') >= 0)
            {
                // A name the kernel cannot take is left out; the offsets of the others stay as they are.
                continue;
            }

            uint type = (uint)entry.Attributes.Type >> 12;
            bool added;
            if (plus)
            {
                bool dots = entry.Name is "." or "..";
                var output = dots ? new FuseEntryOut { Attr = ToAttr(entry.Attributes) } : ToEntry(entry.Attributes);
                added = writer.TryAddPlus(name, output, type, index + 1);
            }
            else
            {
                added = writer.TryAdd(name, entry.Attributes.Inode, type, index + 1);
            }

            if (!added)
            {
                break;
            }
        }

        Reply(reply, FuseReply.WriteHeader(reply, request.Unique, writer.Length));
    }

    // A handle this session did not open: a predecessor's OPENDIR (the kernel keeps the handle across a takeover), or
    // a predecessor's handle equal to one of ours. Listings are deterministic per node id, so the directory is listed
    // again and paged by the same offsets.
    private DirectoryHandle RebuildListing(ulong fileHandle, ulong nodeId)
    {
        var attributes = _fileSystem.GetAttributes(nodeId) ?? throw new FuseErrorException(Errno.ENOENT);
        if (attributes.Type != FuseNodeType.Directory)
        {
            throw new FuseErrorException(Errno.ENOTDIR);
        }

        var handle = new DirectoryHandle(nodeId);
        bool added = true;
        _directories.AddOrUpdate(fileHandle, handle, (_, _) =>
        {
            added = false;
            return handle;
        });
        if (added)
        {
            Statistics.AddOpenDirectory(1);
        }

        Statistics.AddRebuiltListing();
        LogListingRebuilt(fileHandle, nodeId);
        return handle;
    }

    private void HandleStatFs(in FuseRequest request, byte[] reply, FuseConnectionInfo connection)
    {
        var statistics = _statfs?.StatFs() ?? new FuseFileSystemStatistics { BlockSize = 4096, MaxNameLength = FuseProtocol.MaxNameLength };
        var output = new FuseKstatfs
        {
            Blocks = statistics.Blocks,
            BlocksFree = statistics.FreeBlocks,
            BlocksAvailable = statistics.FreeBlocks,
            Files = statistics.Files,
            FilesFree = statistics.FreeFiles,
            BlockSize = statistics.BlockSize,
            NameLength = statistics.MaxNameLength,
            FragmentSize = statistics.BlockSize,
        };
        Reply(reply, FuseReply.Write(reply, request.Unique, output, FuseReply.StatfsOutSize(connection.Minor)));
    }

    private void HandleGetXattr(in FuseRequest request, byte[] reply)
    {
        var input = request.ReadGetXattr(out var nameBytes);
        if (_xattrs is null)
        {
            throw new FuseErrorException(Errno.ENOSYS);
        }

        byte[] value = _xattrs.GetExtendedAttribute(request.NodeId, Encoding.UTF8.GetString(nameBytes)) ?? throw new FuseErrorException(Errno.ENODATA);
        ReplySized(request.Unique, input.Size, value, reply);
    }

    private void HandleListXattr(in FuseRequest request, byte[] reply)
    {
        var input = request.Read<FuseGetXattrIn>();
        if (_xattrs is null)
        {
            throw new FuseErrorException(Errno.ENOSYS);
        }

        // The list is the names, each followed by NUL (listxattr(2)).
        using var list = new MemoryStream();
        foreach (string name in _xattrs.ListExtendedAttributes(request.NodeId))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(name);
            if (bytes.Length == 0 || Array.IndexOf(bytes, (byte)0) >= 0)
            {
                continue;
            }

            list.Write(bytes);
            list.WriteByte(0);
        }

        ReplySized(request.Unique, input.Size, list.ToArray(), reply);
    }

    // getxattr(2)/listxattr(2) semantics: size 0 asks for the length; a smaller buffer than the value is ERANGE.
    private void ReplySized(ulong unique, uint size, byte[] value, byte[] reply)
    {
        if (size == 0)
        {
            Reply(reply, FuseReply.Write(reply, unique, new FuseGetXattrOut { Size = (uint)value.Length }));
            return;
        }

        if ((uint)value.Length > size)
        {
            throw new FuseErrorException(Errno.ERANGE);
        }

        if (value.Length > reply.Length - FuseProtocol.OutHeaderSize)
        {
            byte[] large = new byte[FuseProtocol.OutHeaderSize + value.Length];
            Reply(large, FuseReply.WriteData(large, unique, value));
            return;
        }

        Reply(reply, FuseReply.WriteData(reply, unique, value));
    }

    private void HandleAccess(in FuseRequest request, byte[] reply)
    {
        uint mask = request.Read<FuseAccessIn>().Mask;
        var attributes = _fileSystem.GetAttributes(request.NodeId) ?? throw new FuseErrorException(Errno.ENOENT);
        if ((mask & W_OK) != 0)
        {
            throw new FuseErrorException(Errno.EROFS);
        }

        uint uid = request.Header.Uid;
        uint permissions = attributes.Permissions;
        bool allowed;
        if (uid == 0)
        {
            // root reads anything; executes only what has an execute bit somewhere (or a directory).
            allowed = (mask & X_OK) == 0 || attributes.Type == FuseNodeType.Directory || (permissions & 0x49) != 0;
        }
        else
        {
            int shift = uid == attributes.Uid ? 6 : request.Header.Gid == attributes.Gid ? 3 : 0;
            uint granted = (permissions >> shift) & 7;
            allowed = (mask & (R_OK | X_OK) & ~granted) == 0;
        }

        if (!allowed)
        {
            throw new FuseErrorException(Errno.EACCES);
        }

        Reply(reply, FuseReply.WriteEmpty(reply, request.Unique));
    }

    private FuseEntryOut ToEntry(in FuseAttributes attributes)
    {
        var entry = new FuseEntryOut { NodeId = Check(attributes).NodeId, Generation = 1, Attr = ToAttr(attributes) };
        SetTimeout(_options.EntryTimeout, out entry.EntryValid, out entry.EntryValidNsec);
        SetTimeout(_options.AttributeTimeout, out entry.AttrValid, out entry.AttrValidNsec);
        return entry;
    }

    private static FuseAttributes Check(in FuseAttributes attributes)
        => attributes.NodeId != 0 ? attributes : throw new FuseErrorException(Errno.EIO, "A file system returned node id 0.");

    private static FuseAttr ToAttr(in FuseAttributes attributes)
    {
        long seconds = attributes.ModificationTime.Seconds;
        uint nanoseconds = (uint)attributes.ModificationTime.Nanoseconds;
        uint major = attributes.DeviceMajor;
        uint minor = attributes.DeviceMinor;
        return new FuseAttr
        {
            Ino = attributes.Inode,
            Size = (ulong)Math.Max(0, attributes.Size),
            Blocks = (ulong)Math.Max(0, attributes.Blocks),
            Atime = (ulong)seconds,
            Mtime = (ulong)seconds,
            Ctime = (ulong)seconds,
            AtimeNsec = nanoseconds,
            MtimeNsec = nanoseconds,
            CtimeNsec = nanoseconds,
            Mode = attributes.Mode,
            Nlink = attributes.LinkCount,
            Uid = attributes.Uid,
            Gid = attributes.Gid,

            // include/linux/kdev_t.h new_encode_dev, which fs/fuse decodes with new_decode_dev.
            Rdev = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffu) << 12),
            BlockSize = attributes.BlockSize,
        };
    }

    private static void SetTimeout(TimeSpan timeout, out ulong seconds, out uint nanoseconds)
    {
        long ticks = Math.Max(0, timeout.Ticks);
        seconds = (ulong)(ticks / TimeSpan.TicksPerSecond);
        nanoseconds = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
    }

    private void ReplyError(byte[] buffer, ulong unique, int errno)
    {
        Statistics.AddErrorReply();
        Reply(buffer, FuseReply.WriteError(buffer, unique, errno));
    }

    private void Reply(byte[] buffer, int length) => Reply(buffer.AsSpan(0, length), default);

    private void Reply(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> data)
    {
        if (!_sink.Send(reply, data, out int errno) && errno != 0)
        {
            // ENOENT: the request was interrupted or aborted meanwhile; ENODEV: the connection ended. Both are normal.
            LogReplyRefused(errno);
        }
    }
}
