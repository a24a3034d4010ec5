shared::main!(rides_schedule_mine::function());
