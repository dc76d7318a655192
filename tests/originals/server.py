# The counting server of the Python tutorial this course starts from, reconstructed for the
# course: the same socket calls in the same order, the same bytes on the wire. Its defects are
# deliberate, and chapter 2 shows each of them by test: a client that leaves without `exit`
# kills it, a half-close makes it spin, one recv(1024) is taken as one message (messages glue
# together or split), bytes that are not UTF-8 (or a character cut in two) crash it, a restart
# finds the address in use, and listen(5) drops clients under a burst. Do not fix them here.
#
# It listens on 127.0.0.1:8888, hard-coded. The course's tests run it unchanged on a free port
# (see tests/support/src/originals.rs).
# ANCHOR: program
import socket

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
address = ('127.0.0.1', 8888)
server.bind(address)
server.listen(5)
while True:
    print("等待数据连接中……")
    conn, peer = server.accept()
    messages = "连接成功!"
    conn.send(messages.encode())
    count = 0
    while True:
        data = conn.recv(1024)
        print(data.decode())
        if data == b'exit':
            break
        count = count + 1
        string = "第" + str(count) + "条信息:" + data.decode()
        conn.send(string.encode())
    conn.close()
# ANCHOR_END: program
